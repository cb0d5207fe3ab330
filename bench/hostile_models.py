"""How long `casework validate` / deploy take to refuse (or import) hostile model uploads, each at most the 5 MB limit.

Usage: PYTHONPATH=src python bench/hostile_models.py [--repeat N]
Not a test. Prints, per input, its size, the median seconds of N imports and the first line of the answer.
"""

from __future__ import annotations

import argparse
import statistics
import time

NS = 'xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"'


def _case(plan: str, name: str = "p") -> str:
    plan_model = f'<casePlanModel id="p" name="{name}">{plan}</casePlanModel>'
    return f'<definitions {NS}><case id="c">{plan_model}</case></definitions>'


def inputs() -> dict[str, str]:
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    return {
        "billion laughs": f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY l0 "lol">{entities}]>{_case("", "&l9;")}',
        "external DTD": f'<!DOCTYPE definitions SYSTEM "http://example.com/x.dtd">{_case("")}',
        "external entity": f'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>{_case("", "&x;")}',
        "4.9 MB attribute": _case("", "A" * 4_900_000),
        "100,000 levels deep": f"<definitions {NS}>" + "<a>" * 100_000 + "</a>" * 100_000 + "</definitions>",
        "200,000 elements": _case("<x/>" * 200_000),
        "300,000 attributes": _case("").replace('id="p"', " ".join(f'a{i}="x"' for i in range(300_000)) + ' id="p"'),
        "20,000 plan items": _case("".join(f'<planItem id="i{n}" definitionRef="t"/>' for n in range(20_000))
                                   + '<humanTask id="t"/>'),
        "1 MB condition": _case('<planItem id="i" definitionRef="t"><itemControl><requiredRule><condition>${'
                                + "a &amp;&amp; " * 80_000 + "a}</condition></requiredRule></itemControl></planItem>"
                                + '<humanTask id="t"/>'),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from casework.model import ModelError, load_definition

    for name, xml in inputs().items():
        data = xml.encode("utf-8")
        times = []
        answer = ""
        for _ in range(args.repeat):
            start = time.perf_counter()
            try:
                load_definition(data)
                answer = "imports"
            except ModelError as exc:
                answer = str(exc.problems[0])[:90]
            times.append(time.perf_counter() - start)
        print(f"{name:20s} {len(data):>9,d} B {statistics.median(times):7.3f} s  {answer}")


if __name__ == "__main__":
    main()
