"""Rebuild the bundled sample corpora from ../shared/data/corpora.

    python data/samples/build_samples.py [--corpora ../shared/data/corpora]

Takes the first rows of each upstream file (a few hundred per corpus), keeps
the upstream formats so the adapters read them exactly as the originals, and
stores the Seal-Tools data files as Parquet (nested columns as JSON text) so
the demo exercises the Parquet reader too. BFCL's non-live categories are not
in shared/ and are never bundled.
"""
import argparse
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
SEAL_ROWS = {"dev.jsonl": 150, "test_in_domain.jsonl": 50, "test_out_domain.jsonl": 100}
ACEBENCH_ROWS_PER_FILE = 20


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_jsonl(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def seal_tools(corpora):
    source, target = os.path.join(corpora, "seal_tools"), os.path.join(HERE, "seal_tools")
    os.makedirs(target, exist_ok=True)
    used = set()
    for name, count in SEAL_ROWS.items():
        rows = read_jsonl(os.path.join(source, name))[:count]
        used.update(call["api"] for row in rows for call in row["calling"])
        table = pa.Table.from_pylist([{"id": r["id"], "query": r["query"], "calling": json.dumps(r["calling"])}
                                      for r in rows])
        pq.write_table(table, os.path.join(target, name.replace(".jsonl", ".parquet")))
    catalog = [t for t in read_jsonl(os.path.join(source, "tool.jsonl")) if t["api_name"] in used]
    write_jsonl(os.path.join(target, "tool.jsonl"), catalog)


def with_answers(corpora, corpus, count):
    source, target = os.path.join(corpora, corpus), os.path.join(HERE, corpus)
    for name in sorted(os.listdir(source)):
        if not name.endswith(".json"):
            continue
        rows = read_jsonl(os.path.join(source, name))[:count]
        write_jsonl(os.path.join(target, name), rows)
        answer_file = os.path.join(source, "possible_answer", name)
        if os.path.exists(answer_file):
            ids = {r["id"] for r in rows}
            write_jsonl(os.path.join(target, "possible_answer", name),
                        [a for a in read_jsonl(answer_file) if a["id"] in ids])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default=os.path.join(HERE, "..", "..", "..", "shared", "data", "corpora"))
    args = parser.parse_args()
    seal_tools(args.corpora)
    with_answers(args.corpora, "acebench_en", ACEBENCH_ROWS_PER_FILE)
    with_answers(args.corpora, "bfcl_live_sample", 1000)


if __name__ == "__main__":
    main()
