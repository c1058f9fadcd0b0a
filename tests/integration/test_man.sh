#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The manual pages: each renders with man(1) and groff without a warning, and
# every option a tool's --help names (-x, --long, -o name) is in its page.
. "$(dirname "$0")/lib.sh"

MAN_DIR=$(cd "$(dirname "$0")/../../man" && pwd)
INFO=$BUILD_DIR/tools/pmemfs-info

if ! command -v man >/dev/null || ! command -v groff >/dev/null; then
	skip "manual pages render" "man or groff missing (apt-get install man-db groff-base)"
	finish
fi

# render PAGE: man's and groff's warnings on stdout (none: empty).
render_warnings() {
	MANWIDTH=80 man --warnings -E UTF-8 -l "$1" 2>&1 >/dev/null
	groff -man -ww -z "$1" 2>&1
}

# help_options HELPFILE: each option token of a --help text, one a line:
# "-x", "--long", and "-o name" for FUSE-style options.
help_options() {
	grep -oE -- '(^|[[:space:][|,(])--?[A-Za-z][A-Za-z0-9_-]*' "$1" |
		sed -E 's/^[[:space:][|,(]//'
	grep -oE -- '-o [a-z_]+' "$1" || true
}

# missing_options TOOL PAGE: the options of TOOL --help that PAGE lacks.
missing_options() {
	local help=$SCRATCH/help.txt text=$SCRATCH/page.txt opt re
	"$1" --help >"$help" 2>&1 || { echo "$1 --help failed"; return; }
	MANWIDTH=200 man -E ascii -l "$2" 2>/dev/null | col -bx >"$text"
	[ -s "$text" ] || { echo "$2 rendered empty"; return; }
	help_options "$help" | sort -u | while read -r opt; do
		re=$(printf '%s' "$opt" | sed 's/[.[\*^$]/\\&/g')
		grep -Eq -- "(^|[^A-Za-z0-9_-])$re([^A-Za-z0-9_-]|\$)" "$text" || echo "$opt"
	done
}

for page in pmemfs.8 mkfs.pmemfs.8 fsck.pmemfs.8 pmemfs-info.8; do
	check "$page exists" test -s "$MAN_DIR/$page"
	check_out "$page renders without warnings" "" render_warnings "$MAN_DIR/$page"
	check "$page has NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS, SEE ALSO" \
		bash -c 'for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" "SEE ALSO"; do
			grep -qx "\.SH \"\{0,1\}$s\"\{0,1\}" "$1" || { echo "no $s"; exit 1; }
		done' _ "$MAN_DIR/$page"
done

check_out "every option of pmemfs --help is in pmemfs(8)" "" \
	missing_options "$PMEMFS" "$MAN_DIR/pmemfs.8"
# The other way: every option of pmemfs(8)'s "pmemfs options" is in --help,
# whichever libfuse pmemfs was built with (options a libfuse cannot serve
# are listed and refused, not left out).
page_only_options() {   # page_only_options PAGE
	local help=$SCRATCH/help.txt opt
	"$PMEMFS" --help >"$help" 2>&1 || { echo "pmemfs --help failed"; return; }
	awk '/^\.SH OPTIONS/ { f = 1 } /^\.SS FUSE options/ { f = 0 } f' "$1" |
		grep -oE '^\.BI? "?\\-o [a-z_]+' | sed -E 's/^\.BI? "?\\//' | sort -u |
		while read -r opt; do
			grep -Fq -- "$opt" "$help" || echo "$opt"
		done
}
check_out "every pmemfs option of pmemfs(8) is in pmemfs --help ($("$PMEMFS" --version |
	sed -n 's/^built with //p'))" "" page_only_options "$MAN_DIR/pmemfs.8"
check_out "every option of mkfs.pmemfs --help is in mkfs.pmemfs(8)" "" \
	missing_options "$MKFS" "$MAN_DIR/mkfs.pmemfs.8"
check_out "every option of fsck.pmemfs --help is in fsck.pmemfs(8)" "" \
	missing_options "$FSCK" "$MAN_DIR/fsck.pmemfs.8"
check_out "every option of pmemfs-info --help is in pmemfs-info(8)" "" \
	missing_options "$INFO" "$MAN_DIR/pmemfs-info.8"

# The test itself must catch what it claims to: a page without -V, a bad macro.
sed '/\\-V/d' "$MAN_DIR/mkfs.pmemfs.8" >"$SCRATCH/nov.8"
check_out "a page that lacks -V and --version is caught" $'--version\n-V' missing_options "$MKFS" "$SCRATCH/nov.8"
sed 's/^\.SS pmemfs options$/&\n.TP\n.B \\-o bogus_option\nx/' "$MAN_DIR/pmemfs.8" >"$SCRATCH/extra.8"
check_out "a page option that --help lacks is caught" "-o bogus_option" \
	page_only_options "$SCRATCH/extra.8"
printf '.TH X 8\n.SH NAME\nx \\- y\n.XX bogus\n' >"$SCRATCH/bad.8"
check_fail "an undefined macro is caught" test -z "$(render_warnings "$SCRATCH/bad.8")"

finish
