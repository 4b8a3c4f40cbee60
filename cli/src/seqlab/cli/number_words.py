"""A built-in translation corpus: numbers written in digits and in English words."""

from __future__ import annotations

import random

ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
SCALES = [(1_000_000, "million"), (1_000, "thousand")]


def in_words(n: int) -> str:
    """Write a number below a billion in English words: 4213 -> 'four thousand two hundred thirteen'."""
    if not 0 <= n < 1_000_000_000:
        raise ValueError(f"{n} is out of range")
    if n == 0:
        return ONES[0]
    words: list[str] = []
    for size, name in SCALES:
        if n >= size:
            words += _below_thousand(n // size) + [name]
            n %= size
    if n:
        words += _below_thousand(n)
    return " ".join(words)


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    if n >= 100:
        words += [ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(TENS[n // 10])
        n %= 10
        if n:
            words.append(ONES[n])
    elif n:
        words.append(ONES[n])
    return words


def with_digit_groups(n: int) -> str:
    """Write a number with thousands separators, as the source side shows it: 4213 -> '4,213'."""
    return f"{n:,}"


def sample_numbers(count: int, seed: int, exclude: set[int] | None = None, max_digits: int = 6) -> list[int]:
    """Draw distinct numbers with a spread of magnitudes (as many short as long ones)."""
    rng = random.Random(seed)
    seen = set(exclude or ())
    out: list[int] = []
    while len(out) < count:
        digits = rng.randint(1, max_digits)
        n = rng.randint(10 ** (digits - 1) if digits > 1 else 0, 10**digits - 1)
        if n not in seen:
            seen.add(n)
            out.append(n)
    return out
