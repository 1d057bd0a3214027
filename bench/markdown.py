"""The pieces every report is made of: a judged target and a markdown table."""


def target(name: str, measured: str, passed: bool | None, note: str = "") -> dict:
    return {"target": name, "measured": measured, "passed": passed, "note": note}


def table(header: list[str], rows: list[list]) -> list[str]:
    def cell(value) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return f"{value:,.1f}" if abs(value) < 1000 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return lines
