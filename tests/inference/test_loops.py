import random

from inference.loops import LoopDetector


def feed_all(detector: LoopDetector, tokens: list[int]) -> int | None:
    for index, token in enumerate(tokens):
        if detector.feed(token):
            return index
    return None


def test_repeated_phrase_is_a_loop_once_it_spans_enough_tokens():
    phrase = [11, 12, 13, 14, 15, 16, 17, 18]
    detector = LoopDetector(min_repeats=4, min_tokens=64, max_period=32)
    stopped_at = feed_all(detector, [1, 2, 3] + phrase * 20)
    assert stopped_at == 3 + 64 - 1
    assert detector.period == 8


def test_one_token_repeated_is_a_loop():
    detector = LoopDetector(min_repeats=4, min_tokens=16, max_period=8)
    assert feed_all(detector, [7] * 40) == 15


def test_varied_text_is_not_a_loop():
    rng = random.Random(0)
    detector = LoopDetector(min_repeats=4, min_tokens=64, max_period=256)
    assert feed_all(detector, [rng.randrange(1000) for _ in range(5000)]) is None


def test_period_longer_than_max_is_not_flagged():
    phrase = list(range(100, 140))
    detector = LoopDetector(min_repeats=3, min_tokens=30, max_period=32)
    assert feed_all(detector, phrase * 10) is None
