# Usage: source "$(dirname "$0")/../lib/need.sh"   (lib/netns.sh sources it)
#
#   need TOOL...     fails, before anything else runs, for each TOOL that is
#                    not on PATH, naming the package that has it:
#                    "FAIL T: missing tool: tshark (apt-get install tshark)"
#                    (T is the test's name, when set). Uses the test's
#                    `fail` when there is one (lib/netns.sh), else prints to
#                    stderr and exits 1.
#   apt_packages     the packages of scripts/apt-packages, one a line
#
# scripts/apt-packages is the one list of packages: .ci/run installs it,
# README.md's prerequisites point to it, need reads it.

NEED_LIST="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/apt-packages"

apt_packages() {
    sed -e 's/#.*//' "$NEED_LIST" | awk 'NF { print $1 }'
}

# need_package TOOL: the package scripts/apt-packages lists TOOL under.
need_package() {
    sed -e 's/#.*//' "$NEED_LIST" | awk -v tool="$1" '{ for (i = 2; i <= NF; i++) if ($i == tool) { print $1; exit } }'
}

need() {
    local tool pkg why=""
    for tool; do
        command -v "$tool" >/dev/null 2>&1 && continue
        pkg=$(need_package "$tool")
        [[ -n $pkg ]] && pkg="apt-get install $pkg" || pkg="not in scripts/apt-packages"
        why+="${why:+; }missing tool: $tool ($pkg)"
    done
    [[ -z $why ]] && return 0
    if [[ $(type -t fail) == function ]]; then
        fail "${T:+$T: }$why"
    fi
    echo "${T:+$T: }$why" >&2
    exit 1
}
