from inference.splitting import split_thinking

THINK, END, EOS = 100, 101, 2


def decode(ids: list[int]) -> str:
    return " ".join(f"t{token}" for token in ids)


def split(ids: list[int]):
    return split_thinking(ids, THINK, END, EOS, decode)


def test_thinking_then_answer():
    result = split([THINK, 5, 6, END, 7, 8, EOS])
    assert (result.thinking, result.answer) == ("t5 t6", "t7 t8")
    assert (result.thinking_token_count, result.answer_token_count, result.closed) == (2, 2, True)


def test_no_think_at_all_is_all_answer():
    result = split([5, 6, EOS])
    assert (result.thinking, result.answer, result.thinking_blocks, result.closed) == ("", "t5 t6", (), False)


def test_unclosed_think_is_all_thinking():
    result = split([THINK, 5, 6])
    assert (result.thinking, result.answer, result.closed) == ("t5 t6", "", False)


def test_several_blocks_are_kept_apart_and_joined():
    result = split([THINK, 5, END, 6, THINK, 7, END, 8])
    assert result.thinking_blocks == ("t5", "t7")
    assert result.thinking == "t5\n\nt7"
    assert result.answer == "t6 t8"


def test_tokens_after_eos_are_ignored_and_stray_end_think_dropped():
    result = split([END, 5, EOS, 9])
    assert (result.thinking, result.answer) == ("", "t5")


def test_split_is_by_id_not_text():
    def literal(ids: list[int]) -> str:
        return "".join("[THINK]" if token == 5 else "x" for token in ids)

    result = split_thinking([5, THINK, 6, END, 7], THINK, END, EOS, literal)
    assert result.answer == "[THINK]x"
    assert result.thinking == "x"
