"""The small test runner the end-to-end scripts share (Python 3 standard library).

    from harness import Skip, test, main
    @test
    def something(): ...          # assert; raise Skip("why") to skip
    sys.exit(main(TMPDIR))        # one line per test, then "N passed, N failed, N skipped"
"""
import shutil
import sys
import traceback

RESULTS = []


class Skip(Exception):
    pass


def test(fn):
    """Register fn to run, in the order of definition."""
    RESULTS.append(fn)
    return fn


def main(tmpdir=None):
    """Run every registered test; remove tmpdir; 1 when a test failed, else 0."""
    failed = skipped = 0
    for fn in RESULTS:
        try:
            fn()
            print("ok    %s" % fn.__name__)
        except Skip as e:
            skipped += 1
            print("skip  %s: %s" % (fn.__name__, e))
        except Exception:
            failed += 1
            print("FAIL  %s" % fn.__name__)
            traceback.print_exc(file=sys.stdout)
    print("%d passed, %d failed, %d skipped" % (len(RESULTS) - failed - skipped, failed, skipped))
    if tmpdir:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return 1 if failed else 0
