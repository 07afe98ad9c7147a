"""List the benchmarks; each is run as `python -m bench.<name> --help`."""

from pathlib import Path

for path in sorted(Path(__file__).parent.glob("*_bench.py")):
    doc = (path.read_text().split('"""')[1].strip().splitlines() or [""])[0]
    print(f"python -m bench.{path.stem:<24} {doc}")
