#!/bin/sh
# Lists every test of Python RAET's road tests as "file name", one a line,
# into python_road_tests.txt beside this script. Run it with the path of
# Python RAET's sources (the folder holding raet/), e.g.
#   sh road/testdata/pytests.sh /work/shared/interop/py
# TestScenarioMap checks that scenarios.md maps every name listed.
set -eu
src=${1:?usage: pytests.sh PYTHON_RAET_DIR}
out=$(dirname "$0")/python_road_tests.txt
: > "$out"
for f in test_joining test_presenting test_messaging test_keeping test_stacking test_estating test_packeting; do
	grep -E '^    def test' "$src/raet/road/test/$f.py" | sed -E "s/^    def (test[A-Za-z0-9_]*).*/$f.py \\1/" >> "$out"
done
wc -l < "$out"
