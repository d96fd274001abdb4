#!/usr/bin/env bash
# Builds Verdict's release packages for a Linux x86_64 machine without a Swift toolchain (a Wazuh manager):
#
#   scripts/package.sh [--revision N] [--output DIR]
#
# writes DIR (default dist/) verdict-VERSION-linux-x86_64.tar.gz and verdict_VERSION-N_amd64.deb. VERSION is what
# the built `verdict --version` prints (verdictVersion in Sources/VerdictCore/Verdict.swift, the one place it is
# set); N is the package's own revision (default 1), raised when only the packaging changes. `verdict` is built
# with the Swift standard library and Foundation linked in (--static-swift-stdlib) in .build-package, so it needs
# only the C libraries that `Depends:` names (read off ldd). The two relays Wazuh starts for every alert,
# custom-verdict and verdict-ar, are fully static (-static-executable, in .build-package-relays): no dynamic
# loader, no libstdc++ to map, a third of the start-up work. Needs swift, dpkg-deb, gzip, python3.
set -euo pipefail

revision=1
output=
while [ $# -gt 0 ]; do
    case "$1" in
        --revision) revision=${2:?"--revision needs a number"}; shift 2 ;;
        --output) output=${2:?"--output needs a folder"}; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "package.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$revision" in ''|*[!0-9]*) echo "package.sh: --revision takes a number, not '$revision'" >&2; exit 2 ;; esac
[ "$(uname -m)" = x86_64 ] || { echo "package.sh: builds x86_64 packages on an x86_64 machine only" >&2; exit 2; }
for tool in swift dpkg-deb dpkg-shlibdeps gzip python3 readelf; do
    if ! command -v "$tool" >/dev/null; then
        [ "$tool" = dpkg-shlibdeps ] && hint="apt-get install -y dpkg-dev" || hint="install $tool"
        echo "package.sh: $tool is missing ($hint)" >&2
        exit 2
    fi
done

root=$(cd "$(dirname "$0")/.." && pwd)
output=${output:-$root/dist}
scratch=${VERDICT_PACKAGE_SCRATCH:-$root/.build-package}
cd "$root"

programs=(verdict custom-verdict verdict-ar)
relays=(custom-verdict verdict-ar)
echo "package.sh: building verdict (release, static Swift libraries)" >&2
swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product verdict >&2
bin=$(swift build -c release --static-swift-stdlib --scratch-path "$scratch" --show-bin-path)
# Their own scratch path: other flags there would rebuild everything verdict is made of.
relay_flags=(-c release -Xswiftc -static-executable --scratch-path "$scratch-relays")
for program in "${relays[@]}"; do
    echo "package.sh: building $program (release, fully static)" >&2
    # The linker's warnings about getpwnam are expected: see WazuhIdentity.target.
    swift build "${relay_flags[@]}" --product "$program" >&2
done
relay_bin=$(swift build "${relay_flags[@]}" --show-bin-path)
for program in "${relays[@]}"; do
    if readelf --program-headers "$relay_bin/$program" | grep -q INTERP; then
        echo "package.sh: $relay_bin/$program is not a static executable" >&2
        exit 1
    fi
done
version=$("$bin/verdict" --version)
case "$version" in [0-9]*.[0-9]*) ;; *) echo "package.sh: verdict --version printed '$version'" >&2; exit 1 ;; esac
debversion="$version-$revision"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree="$work/deb"
mkdir -p "$tree/usr/lib/verdict" "$tree/usr/bin" "$tree/lib/systemd/system" "$tree/etc/verdict" \
    "$tree/usr/share/verdict/wazuh" "$tree/usr/share/man/man1" "$tree/usr/share/doc/verdict" "$tree/DEBIAN"

# The three executables side by side: `verdict wazuh install` copies the other two from its own folder.
install -m 0755 "$bin/verdict" "$tree/usr/lib/verdict/verdict"
for program in "${relays[@]}"; do install -m 0755 "$relay_bin/$program" "$tree/usr/lib/verdict/$program"; done
for program in "${programs[@]}"; do strip --strip-unneeded "$tree/usr/lib/verdict/$program"; done
ln -s ../lib/verdict/verdict "$tree/usr/bin/verdict"
install -m 0644 wazuh/systemd/verdict-tail.service wazuh/systemd/verdict-serve.service "$tree/lib/systemd/system/"
install -m 0644 wazuh/rules/verdict_rules.xml wazuh/ossec.conf.example "$tree/usr/share/verdict/wazuh/"
install -m 0640 packaging/verdict.yaml "$tree/etc/verdict/verdict.yaml"
install -m 0644 README.md "$tree/usr/share/doc/verdict/README.md"
install -m 0644 docs/contracts.md docs/wazuh.md docs/sources.md "$tree/usr/share/doc/verdict/"
gzip -9n "$tree/usr/share/doc/verdict/"*.md

# A manual page for every command, from the command's own --help (the text of the code, so never stale).
"$bin/verdict" --experimental-dump-help >"$work/help.json"
python3 packaging/manual-pages.py "$work/help.json" "$bin/verdict" "$tree/usr/share/man/man1" "$version"
gzip -9n "$tree/usr/share/man/man1/"*.1

# Depends: what verdict loads (the relays load nothing), as dpkg-shlibdeps finds it from its DT_NEEDED and the
# shlibs database.
mkdir -p "$work/shlibs/debian"
printf 'Source: verdict\n\nPackage: verdict\nArchitecture: amd64\n' >"$work/shlibs/debian/control"
depends=$(cd "$work/shlibs" && dpkg-shlibdeps -O "$tree/usr/lib/verdict/verdict" 2>/dev/null |
    sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "package.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
installed_size=$(du -sk --exclude=DEBIAN "$tree" | cut -f1)

sed -e "s/@VERSION@/$debversion/" -e "s/@DEPENDS@/$depends/" -e "s/@SIZE@/$installed_size/" \
    packaging/debian/control >"$tree/DEBIAN/control"
install -m 0644 packaging/debian/conffiles "$tree/DEBIAN/conffiles"
for script in postinst prerm postrm; do install -m 0755 "packaging/debian/$script" "$tree/DEBIAN/$script"; done

mkdir -p "$output"
deb="$output/verdict_${debversion}_amd64.deb"
dpkg-deb --root-owner-group -Zxz --build "$tree" "$deb" >&2

# The same files for machines without dpkg: bin/, the units, the Wazuh files, the settings and the pages.
name="verdict-$version-linux-x86_64"
archive="$work/$name"
mkdir -p "$archive/bin" "$archive/systemd" "$archive/etc"
cp -a "$tree/usr/lib/verdict/." "$archive/bin/"
cp -a "$tree/lib/systemd/system/." "$archive/systemd/"
cp -a "$tree/usr/share/verdict/wazuh" "$tree/usr/share/man" "$archive/"
cp -a "$tree/etc/verdict/verdict.yaml" "$archive/etc/"
cp -a "$tree/usr/share/doc/verdict" "$archive/doc"
cat >"$archive/INSTALL" <<EOF
Verdict $version for Linux x86_64. Needs: $depends

On a Wazuh manager, as root (keep the three executables in one folder):
  mkdir -p /opt/verdict && cp bin/* /opt/verdict/ && ln -sf /opt/verdict/verdict /usr/local/bin/verdict
  verdict wazuh install          # --wazuh-home DIR if not /var/ossec
then add the <integration> block it prints to ossec.conf and restart the manager. man/ holds a page for every
command. systemd/ holds the units for verdict tail and verdict serve: they run /usr/bin/verdict, so change
ExecStart (and create the verdict user and /var/lib/verdict for verdict serve).
On Debian and Ubuntu, the .deb of the same version does all of this and keeps settings and data on upgrade.
EOF
tar -C "$work" --owner=0 --group=0 -czf "$output/$name.tar.gz" "$name"

echo "$deb"
echo "$output/$name.tar.gz"
