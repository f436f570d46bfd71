"""Split generated token ids into thinking and answer at the [THINK]/[/THINK] control-token ids.

Working on ids, not text, means a document or answer that merely mentions "[THINK]" can
never move the boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from inference.types import ThinkingSplit

Decode = Callable[[list[int]], str]


def split_thinking(token_ids: Sequence[int], think: int, end_think: int, eos: int, decode: Decode) -> ThinkingSplit:
    """Thinking = every ``[THINK]…[/THINK]`` block (an unclosed last block runs to the end); answer = the rest."""
    blocks: list[list[int]] = []
    answer: list[int] = []
    inside = False
    for token in token_ids:
        if token == eos:
            break
        if token == think and not inside:
            inside = True
            blocks.append([])
        elif token == end_think and inside:
            inside = False
        elif inside:
            blocks[-1].append(token)
        elif token != end_think:
            answer.append(token)
    texts = tuple(decode(block).strip() for block in blocks)
    return ThinkingSplit(
        thinking="\n\n".join(text for text in texts if text),
        answer=decode(answer).strip(),
        thinking_blocks=texts,
        thinking_token_count=sum(len(block) for block in blocks),
        answer_token_count=len(answer),
        closed=bool(blocks) and not inside,
    )
