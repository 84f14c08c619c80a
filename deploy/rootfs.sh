#!/usr/bin/env bash
# Makes DIR the whole root filesystem of a runtime image (deploy/Dockerfile's
# images are FROM scratch + this directory): BINARY... in /usr/local/bin,
# every shared library they load as `ldd` resolves it (the dynamic loader
# included), the CA bundle, a minimal /etc (passwd and group with the
# non-root user 65532, nsswitch.conf, os-release) and, for image scanners, the
# dpkg records of the Debian packages those libraries come from
# (/var/lib/dpkg/status.d/, as distroless images carry them). Nothing else: no
# shell, no package manager. The layout is Debian 12's merged /usr (/lib and
# /lib64 are links into /usr), so the loader path in the binaries resolves.
#
#   deploy/rootfs.sh DIR BINARY...
#
# DIR must not exist yet. Also run by tests/deploy/runtime_libraries_test.sh on
# the host's binaries, which then runs them inside DIR alone.
set -euo pipefail
[[ $# -ge 2 ]] || { echo "usage: $0 DIR BINARY..." >&2; exit 64; }
dir=$1
shift
[[ ! -e "$dir" ]] || { echo "rootfs.sh: $dir already exists" >&2; exit 1; }
mkdir -p "$dir"/usr/local/bin "$dir"/usr/lib "$dir"/usr/lib64 "$dir"/etc/ssl/certs \
         "$dir"/var/lib/dpkg/status.d
ln -s usr/lib "$dir/lib"
ln -s usr/lib64 "$dir/lib64"

libs=()
for binary in "$@"; do
  [[ -x "$binary" ]] || { echo "rootfs.sh: $binary is not an executable" >&2; exit 1; }
  install -m 0755 "$binary" "$dir/usr/local/bin/"
  out=$(ldd "$binary") || { echo "rootfs.sh: ldd $binary failed" >&2; exit 1; }
  if grep -q 'not found' <<<"$out"; then
    echo "rootfs.sh: $binary: $(grep 'not found' <<<"$out")" >&2; exit 1
  fi
  # "libx.so.1 => /lib/.../libx.so.1 (0x...)" and the loader "\t/lib64/ld-... (0x...)".
  while read -r lib; do libs+=("$lib"); done < <(awk '/=> \//{print $3} /^\t\//{print $1}' <<<"$out")
done

# Each library under the name ldd resolved (the soname the loader looks
# for), in its directory with the /usr links resolved, as a plain file.
mapfile -t libs < <(printf '%s\n' "${libs[@]}" | sort -u)
forms=()
for lib in "${libs[@]}"; do
  target="$dir$(readlink -f "$(dirname "$lib")")/$(basename "$lib")"
  mkdir -p "$(dirname "$target")"
  cp -L "$lib" "$target"
  chmod 0755 "$target"
  for path in "$lib" "$(readlink -f "$lib")"; do
    forms+=("$path" "${path#/usr}" "/usr${path#/usr}")
  done
done
# The Debian package of each library (dpkg knows a path in its / or /usr
# form), in one query: "package[:arch][, package...]: path".
owners=$(dpkg -S "${forms[@]}" 2>/dev/null || true)
packages=()
for lib in "${libs[@]}"; do
  owner=""
  for path in "$lib" "$(readlink -f "$lib")"; do
    for form in "$path" "${path#/usr}" "/usr${path#/usr}"; do
      owner=$(awk -v p="$form" '{i = index($0, ": "); if (substr($0, i + 2) == p) print substr($0, 1, i - 1)}' \
                <<<"$owners" | head -n 1 | cut -d, -f1 | cut -d: -f1)
      [[ -n "$owner" ]] && break 2
    done
  done
  [[ -n "$owner" ]] || { echo "rootfs.sh: no Debian package owns $lib" >&2; exit 1; }
  packages+=("$owner")
done
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | sort -u)
for package in "${packages[@]}"; do
  dpkg-query -s "$package" >"$dir/var/lib/dpkg/status.d/$package"
done

ca=/etc/ssl/certs/ca-certificates.crt
[[ -s "$ca" ]] || { echo "rootfs.sh: $ca is missing (package ca-certificates)" >&2; exit 1; }
cp "$ca" "$dir/etc/ssl/certs/"
cp -L /etc/os-release "$dir/etc/os-release"
printf '%s\n' 'root:x:0:0:root:/root:/usr/sbin/nologin' \
  'nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin' >"$dir/etc/passwd"
printf '%s\n' 'root:x:0:' 'nonroot:x:65532:' >"$dir/etc/group"
printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' >"$dir/etc/nsswitch.conf"
chmod -R u=rwX,go=rX "$dir"
echo "rootfs.sh: $dir: $# binaries, ${#libs[@]} libraries from ${#packages[@]} Debian packages," \
     "$(du -sh "$dir" | cut -f1)"
