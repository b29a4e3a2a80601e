#!/usr/bin/env bash
# Test of the checker itself: the real series plus one deliberately broken
# patch (past-tense subject, no sign-off, trailing whitespace, an exported
# function without kernel-doc) must fail checkpatch, the changelog lint and
# kernel-doc, naming that patch or its file, and nothing else.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cp -r "$top/patches" "$top/series" "$tmp/"
bad=9999-broken.patch
cat >"$tmp/patches/$bad" <<'PATCH'
From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: Somebody Else <else@example.invalid>
Date: Sun, 22 Nov 2026 00:00:00 +0000
Subject: [PATCH] mm: added a file

---
 mm/earlymm_broken.c | 6 ++++++
 1 file changed, 6 insertions(+)
 create mode 100644 mm/earlymm_broken.c

diff --git a/mm/earlymm_broken.c b/mm/earlymm_broken.c
new file mode 100644
index 000000000000..111111111111
--- /dev/null
+++ b/mm/earlymm_broken.c
@@ -0,0 +1,6 @@
+int earlymm_broken; 
+
+void earlymm_broken_fn(void)
+{
+}
+EXPORT_SYMBOL(earlymm_broken_fn);
PATCH
echo "$bad" >>"$tmp/series"

out=$(python3 "$top/tests/check/check_series.py" --dir "$tmp" --no-export --no-builds) && {
	echo "selftest: FAIL: the checker passed a broken patch"; echo "$out"; exit 1; }
fails=$(grep '^FAIL' <<<"$out" | sed 's/  -- .*//')
expect="FAIL  checkpatch     $bad
FAIL  changelog      $bad
FAIL  kernel-doc     mm/earlymm_broken.c"
if [ "$fails" != "$expect" ]; then
	echo "selftest: FAIL: want exactly these failures:"; echo "$expect"; echo "got:"; echo "$out"; exit 1
fi
for want in "not imperative" "not the project identity" "no Signed-off-by" "too short" \
	"earlymm_broken_fn() has no kernel-doc"; do
	grep -q "$want" <<<"$out" || { echo "selftest: FAIL: lint missed: $want"; echo "$out"; exit 1; }
done
echo "selftest: PASS: broken patch $bad rejected by checkpatch, changelog lint and kernel-doc"
