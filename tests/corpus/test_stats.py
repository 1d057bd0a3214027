"""Repeated-line counting (bounded, sampled) and the summary table."""

from corpus.stats import PrepareStats, RepeatedLines, summary_table


def test_repeated_lines_survive_pruning():
    lines = RepeatedLines(capacity=40, max_len=30)
    for number in range(200):
        lines.add(f"Embed\nunique line {number}\n\nYou might also like\n" + "x" * 31)
    result = lines.as_json(5)
    assert result["lines"] == [
        {"line": "Embed", "count": 200},
        {"line": "You might also like", "count": 200},
    ]
    assert len(lines._counts) <= 40


def test_repeated_lines_sample_documents_after_the_exact_part():
    lines = RepeatedLines(exact_chars=100, stride=4)
    counted = []
    for _ in range(20):
        if lines.wants_next():
            lines.add("a line of twenty-five chars")  # 27 characters
            counted.append(1)
        else:
            counted.append(0)
    # 4 documents reach 100 characters; then every 4th document (numbers 8, 12, 16, 20).
    assert counted == [1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]
    assert lines.as_json(1) == {
        "documents_counted": 8,
        "lines": [{"line": "a line of twenty-five chars", "count": 8}],
    }


def test_summary_table():
    stats = PrepareStats(documents_in=5, bytes_in=3_000_000)
    stats.splits["train"].add(words=1200, chars=6000)
    stats.splits["test"].add(words=30, chars=150)
    stats.dropped.update({"duplicate": 2, "binary": 1})
    table = summary_table(stats, seconds=2.0).splitlines()
    assert table[0].split() == ["split", "documents", "words", "chars"]
    assert table[1].split() == ["train", "1", "1,200", "6,000"]
    assert table[2].split() == ["val", "0", "0", "0"]
    assert table[4] == "documents in 5, out 2; dropped: binary 1, duplicate 2"
    assert table[5] == "3.0 MB in 2.0 s (1.5 MB/s)"
