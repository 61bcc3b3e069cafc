#!/usr/bin/env python3
"""
Dialect check: runs SQL through a current ClickHouse engine (chdb, embedded ClickHouse from PyPI),
so statements we test on ClickHouse 18.16 are known to be valid on current releases too.

stdin:  {"setup": ["CREATE DATABASE …", "CREATE TABLE …", …], "queries": ["SELECT …", …]}
stdout: {"version": "26.x", "results": [{"phase": "setup"|"query", "index": n, "ok": true|false,
         "error": "…" (when not ok), "rows": n, "output": "first 64 KiB of JSONEachRow" (queries)}]}

Setup statements (DDL, inserts) run for real, in order, in one chdb session on a temp dir; the
queries then run against the tables they created, so a report query is checked for names and
types, not just syntax. Every statement runs even after a failure, to report all errors at once.
Exit 0 when all passed, 1 when any failed, 2 when chdb is not importable.
"""
import json
import shutil
import sys
import tempfile

try:
    from chdb import session as chdb_session
except ImportError as e:  # the test skips with this message
    print(json.dumps({"unavailable": f"chdb is not importable ({e}); pip install chdb"}))
    sys.exit(2)


def main() -> int:
    request = json.load(sys.stdin)
    path = tempfile.mkdtemp(prefix="postlog-chdb-")
    session = chdb_session.Session(path)
    results = []
    failed = False
    try:
        version = str(session.query("SELECT version()", "TSV")).strip()
        for phase, statements in (("setup", request.get("setup", [])), ("query", request.get("queries", []))):
            for index, statement in enumerate(statements):
                try:
                    out = session.query(statement, "JSONEachRow")
                    result = {"phase": phase, "index": index, "ok": True}
                    if phase == "query":
                        text = str(out)
                        result["rows"] = len([line for line in text.split("\n") if line.strip()])
                        result["output"] = text[:65536]
                    results.append(result)
                except Exception as e:  # chdb raises ChdbError (a RuntimeError) with the server's text
                    failed = True
                    results.append({"phase": phase, "index": index, "ok": False, "error": str(e)})
    finally:
        session.close()
        shutil.rmtree(path, ignore_errors=True)
    print(json.dumps({"version": version, "results": results}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
