#!/usr/bin/env bash
# tcg-guest.sh: a second real kernel for the oracle. Debian's Linux 6.1 with the real kvm_amd (nested=1)
# booted under QEMU TCG (-cpu max), running one self-contained .NET program against the guest's /dev/kvm,
# with its output on the serial console (this script's stdout). See README.md next to this file.
#
#   tcg-guest.sh prepare [--refresh]                       install host packages, fetch + unpack the kernel
#   tcg-guest.sh kernel-release                            print the cached kernel release
#   tcg-guest.sh initramfs <publish-dir> <exe> <out.cpio.gz>
#   tcg-guest.sh boot <initramfs> [program args...]       exit code = the guest program's exit code
#   tcg-guest.sh run <app-dir> <entry.dll> [args...]      a framework-dependent .NET app with this machine's runtime
#   tcg-guest.sh status                                   prints the kernel release; exit 1 if not prepared
#
# Environment: CPUIDF_TCG_CACHE (default $HOME/.cache/cpuidf-tcg), CPUIDF_TCG_KERNEL_PKG (force a package),
# CPUIDF_TCG_TIMEOUT (600 s), CPUIDF_TCG_CPU (max), CPUIDF_TCG_MEM (2048), CPUIDF_TCG_SMP (1),
# CPUIDF_TCG_KVM_AMD_PARAMS ("nested=1"), CPUIDF_TCG_ENV (extra guest env, NAME=VALUE separated by spaces),
# CPUIDF_TCG_DMESG (1: print the guest's dmesg before the END line), CPUIDF_TCG_QEMU_ARGS (extra QEMU args),
# CPUIDF_TCG_KERNEL_IMAGE (vmlinux: the extracted ELF, booted via PVH, default; bzimage: the packaged vmlinuz).
# The initramfs is compressed according to its name: .gz gzip, .zst zstd, .xz xz, anything else (.cpio) none.
set -Eeuo pipefail
on_err() { echo "${0##*/}: error: '$2' failed with status $1 (line $3)" >&2; }
trap 'on_err $? "$BASH_COMMAND" $LINENO' ERR

readonly SCRIPT_VERSION=1
readonly PROG=${0##*/}
CACHE=${CPUIDF_TCG_CACHE:-${HOME:-/root}/.cache/cpuidf-tcg}
readonly CACHE
# The cache (kernel tree, debs: ~500 MB) must not land inside the repository.
REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
case $(realpath -m "$CACHE")/ in
    "$REPO_ROOT"/*) echo "$PROG: error: CPUIDF_TCG_CACHE ($CACHE) is inside the repository $REPO_ROOT" >&2; exit 2 ;;
esac

die() { echo "$PROG: error: $*" >&2; exit 2; }
note() { echo "$PROG: $*" >&2; }

usage() {
    sed -n '2,/^set -/{/^#/s/^# \{0,1\}//p}' "$0" >&2
    exit "${1:-2}"
}

as_root() {
    if [[ $EUID -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
    else die "need root (or passwordless sudo) to run: $*"; fi
}

pkg_installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }

# apt-get, quiet; its output goes to a log that is shown only when it fails.
apt_quiet() {
    local log; log=$(mktemp)
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Use-Pty=0 "$@" >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"; return 1
    fi
    rm -f "$log"
}

ensure_host_packages() {
    local missing=() p
    for p in qemu-system-x86 busybox-static xz-utils; do pkg_installed "$p" || missing+=("$p"); done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    note "installing ${missing[*]}"
    if ! apt_quiet install --no-install-recommends "${missing[@]}"; then
        note "apt-get install failed; running apt-get update and retrying"
        apt_quiet update || die "apt-get update failed"
        apt_quiet install --no-install-recommends "${missing[@]}" || die "apt-get install ${missing[*]} failed"
    fi
}

# The newest linux-image-6.1.0-NN-amd64-unsigned (else linux-image-6.1.0-NN-amd64) apt knows about.
pick_kernel_package() {
    local names
    names=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64' 2>/dev/null | awk '{print $1}')
    local best
    best=$(grep -E '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' <<<"$names" | sort -V | tail -n1 || true)
    [[ -n $best ]] || best=$(grep -E '^linux-image-6\.1\.0-[0-9]+-amd64$' <<<"$names" | sort -V | tail -n1 || true)
    printf '%s' "$best"
}

current_release() {
    [[ -s $CACHE/current ]] || return 1
    local rel; rel=$(<"$CACHE/current")
    [[ -f $CACHE/$rel/vmlinuz && -s $CACHE/$rel/modules/order ]] || return 1
    printf '%s' "$rel"
}

# Decompress (if needed) one module file into dest.
unpack_module() {
    local src=$1 dest=$2
    case $src in
        *.ko.xz) xz -dc "$src" >"$dest" ;;
        *.ko.zst) command -v zstd >/dev/null || die "$src is zstd-compressed: apt-get install zstd"
                  zstd -q -dc "$src" >"$dest" ;;
        *.ko.gz) gzip -dc "$src" >"$dest" ;;
        *.ko) cp "$src" "$dest" ;;
        *) die "unknown module format: $src" ;;
    esac
}

# Extract the uncompressed ELF vmlinux from a bzImage (like scripts/extract-vmlinux). QEMU boots it through
# its PVH entry point, which skips the in-guest decompression of the bzImage: about 3 s less under TCG.
extract_vmlinux() {
    local img=$1 out=$2 magic dec pos
    for magic in '\xfd7zXZ\x00:xz -dc --single-stream' '\x28\xb5\x2f\xfd:zstd -q -dc' '\x1f\x8b\x08:gzip -dc'; do
        dec=${magic#*:}
        command -v "${dec%% *}" >/dev/null || continue
        while read -r pos; do
            tail -c "+$((pos + 1))" "$img" | $dec >"$out.tmp" 2>/dev/null || true
            if [[ $(head -c 4 "$out.tmp" | od -An -c | tr -d ' ') == 177ELF ]]; then
                mv "$out.tmp" "$out"; return 0
            fi
        done < <(LC_ALL=C grep -obUaP "${magic%%:*}" "$img" | cut -d: -f1)
    done
    rm -f "$out.tmp"
    return 1
}

ensure_vmlinux() {
    local rel=$1
    [[ -s $CACHE/$rel/vmlinux ]] && return 0
    extract_vmlinux "$CACHE/$rel/vmlinuz" "$CACHE/$rel/vmlinux" \
        || note "warning: could not extract vmlinux from the bzImage; boot will use the bzImage (slower)"
}

cmd_prepare() {
    local refresh=0
    [[ ${1:-} == --refresh ]] && refresh=1 && shift
    [[ $# -eq 0 ]] || usage
    ensure_host_packages
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9
    local rel
    if [[ $refresh -eq 0 && -z ${CPUIDF_TCG_KERNEL_PKG:-} ]] && rel=$(current_release); then
        note "cached kernel $(<"$CACHE/$rel/package")"
        ensure_vmlinux "$rel"
        echo "kernel-release $rel"
        echo "kernel $CACHE/$rel/vmlinuz"
        [[ -s $CACHE/$rel/vmlinux ]] && echo "vmlinux $CACHE/$rel/vmlinux"
        return 0
    fi

    local pkg=${CPUIDF_TCG_KERNEL_PKG:-}
    if [[ -z $pkg ]]; then
        pkg=$(pick_kernel_package)
        if [[ -z $pkg ]]; then
            note "no linux-image-6.1.0-*-amd64 in the apt cache; running apt-get update"
            apt_quiet update || die "apt-get update failed"
            pkg=$(pick_kernel_package)
        fi
        [[ -n $pkg ]] || die "apt knows no linux-image-6.1.0-NN-amd64(-unsigned) package (is this Debian bookworm?)"
    fi
    local ver
    ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
    [[ -n $ver && $ver != "(none)" ]] || die "package $pkg has no installable candidate"

    mkdir -p "$CACHE/debs"
    local deb
    deb=$(find "$CACHE/debs" -maxdepth 1 -name "${pkg}_${ver//:/%3a}_*.deb" -print -quit)
    if [[ -z $deb ]]; then
        note "downloading $pkg $ver"
        local dl; dl=$(mktemp -d "$CACHE/debs/.dl.XXXXXX")
        # apt-get download as root warns that _apt cannot read the directory; let it.
        chmod 755 "$dl"
        if ! (cd "$dl" && apt-get -q download "$pkg=$ver" >"$dl/log" 2>&1); then
            cat "$dl/log" >&2; rm -rf "$dl"; die "apt-get download $pkg=$ver failed"
        fi
        deb=$(find "$dl" -maxdepth 1 -name '*.deb' -print -quit)
        [[ -n $deb ]] || { rm -rf "$dl"; die "apt-get download $pkg produced no .deb"; }
        mv "$deb" "$CACHE/debs/"
        deb=$CACHE/debs/${deb##*/}
        rm -rf "$dl"
    fi

    local tmp; tmp=$(mktemp -d "$CACHE/.unpack.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    dpkg-deb -x "$deb" "$tmp/root" || die "dpkg-deb -x $deb failed"
    local moddirs; moddirs=("$tmp"/root/lib/modules/*/)
    [[ ${#moddirs[@]} -eq 1 && -d ${moddirs[0]} ]] || die "expected exactly one lib/modules/<release> in $deb"
    rel=$(basename "${moddirs[0]}")
    local md=$tmp/root/lib/modules/$rel
    [[ -f $tmp/root/boot/vmlinuz-$rel ]] || die "no boot/vmlinuz-$rel in $deb"
    # kvm-amd and its dependencies, in load order. The package has no modules.dep (depmod runs at install
    # time, and kmod may be absent here), so follow the depends= field of each module's .modinfo section.
    declare -A MODFILE=() SEEN=()
    local f n
    while IFS= read -r f; do
        n=${f##*/}; n=${n%%.ko*}; MODFILE[${n//-/_}]=$f
    done < <(find "$md/kernel" -name '*.ko*' -type f)
    mkdir -p "$tmp/out/modules"
    : >"$tmp/out/modules/order"
    add_module() {
        local name=${1//-/_} src base dep deps
        [[ -n ${SEEN[$name]:-} ]] && return 0
        SEEN[$name]=1
        src=${MODFILE[$name]:-}
        [[ -n $src ]] || die "module $name not found under $md/kernel"
        base=${src##*/}; base=${base%%.ko*}.ko
        unpack_module "$src" "$tmp/out/modules/$base"
        deps=$(tr '\0' '\n' <"$tmp/out/modules/$base" | sed -n 's/^depends=//p')
        deps=${deps%%$'\n'*}
        local IFS=,
        for dep in $deps; do [[ -n $dep ]] && add_module "$dep"; done
        echo "$base" >>"$tmp/out/modules/order"
    }
    add_module kvm_amd
    for m in irqbypass.ko kvm.ko ccp.ko kvm-amd.ko; do
        grep -qx "$m" "$tmp/out/modules/order" || note "warning: $m is not among kvm-amd's dependencies"
    done
    mv "$tmp/root" "$tmp/out/root"
    ln -s "root/boot/vmlinuz-$rel" "$tmp/out/vmlinuz"
    echo "$pkg $ver" >"$tmp/out/package"
    rm -rf "${CACHE:?}/$rel"
    mv "$tmp/out" "$CACHE/$rel"
    echo "$rel" >"$CACHE/current.tmp" && mv "$CACHE/current.tmp" "$CACHE/current"
    rm -rf "$tmp"; trap - EXIT
    ensure_vmlinux "$rel"
    note "unpacked $pkg $ver; modules: $(tr '\n' ' ' <"$CACHE/$rel/modules/order")"
    echo "kernel-release $rel"
    echo "kernel $CACHE/$rel/vmlinuz"
    [[ -s $CACHE/$rel/vmlinux ]] && echo "vmlinux $CACHE/$rel/vmlinux"
    return 0
}

cmd_kernel_release() {
    [[ $# -eq 0 ]] || usage
    current_release || die "no kernel cached in $CACHE; run: $PROG prepare"
    echo
}

# The guest's /init (busybox sh). @MODREL@ is replaced with the modules' kernel release, @EXE@ with the exe name.
guest_init() {
    cat <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:/oracle
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /tmp
MODREL='@MODREL@'
EXE='@EXE@'

finish() {
    sync
    sleep 0.2
    poweroff -f
    echo o >/proc/sysrq-trigger
    while :; do sleep 1; done
}
fail() { echo "CPUIDF-GUEST-ERROR $*"; finish; }

# %XX-decode one field. Backslashes arrive as %5C, so printf %b sees only our \xHH escapes.
pdec() {
    printf '%b' "$(printf '%s' "$1" | sed -e 's/%\([0-9A-Fa-f][0-9A-Fa-f]\)/\\x\1/g')"
}

set -f
ARGS_RAW='' ARGC=0 ENV_RAW='' KVM_AMD=nested=1 DMESG=0
# shellcheck disable=SC2013 # words, not lines
for w in $(cat /proc/cmdline); do
    case $w in
        cpuidf.args=*) ARGS_RAW=${w#cpuidf.args=} ;;
        cpuidf.argc=*) ARGC=${w#cpuidf.argc=} ;;
        cpuidf.env=*) ENV_RAW=${w#cpuidf.env=} ;;
        cpuidf.kvm_amd=*) KVM_AMD=$(pdec "${w#cpuidf.kvm_amd=}") ;;
        cpuidf.dmesg=*) DMESG=${w#cpuidf.dmesg=} ;;
    esac
done

[ "$(uname -r)" = "$MODREL" ] || fail "kernel $(uname -r) but the initramfs holds modules for $MODREL (rebuild it)"
while read -r mod; do
    if [ "$mod" = kvm-amd.ko ]; then params=$KVM_AMD; else params=; fi
    # shellcheck disable=SC2086
    out=$(insmod /modules/$mod $params 2>&1) || fail "insmod $mod $params: $out"
done </modules/order
[ -c /dev/kvm ] || fail "/dev/kvm missing after insmod"
echo "CPUIDF-GUEST-BEGIN $(uname -r)"

# Fields are comma-separated and %XX-encoded; cpuidf.argc says how many (so empty args survive).
set --
rest=$ARGS_RAW i=0
while [ "$i" -lt "$ARGC" ]; do
    case $rest in
        *,*) f=${rest%%,*} rest=${rest#*,} ;;
        *) f=$rest rest= ;;
    esac
    a=$(pdec "$f"; echo x)
    set -- "$@" "${a%x}"
    i=$((i + 1))
done
rest=$ENV_RAW
while [ -n "$rest" ]; do
    case $rest in
        *,*) f=${rest%%,*} rest=${rest#*,} ;;
        *) f=$rest rest= ;;
    esac
    e=$(pdec "$f"; echo x)
    export "${e%x}"
done
set +f

export DOTNET_BUNDLE_EXTRACT_BASE_DIR=/tmp HOME=/tmp TMPDIR=/tmp DOTNET_gcServer=0
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
cd /tmp || fail "cd /tmp"
"/oracle/$EXE" "$@" </dev/null
rc=$?
if [ "$DMESG" = 1 ]; then
    echo "CPUIDF-GUEST-DMESG-BEGIN"
    dmesg
    echo "CPUIDF-GUEST-DMESG-END"
fi
echo "CPUIDF-GUEST-END $rc"
finish
INIT
}

# Copy a shared library (following symlinks) to the same absolute path inside the image root.
copy_lib() {
    local root=$1 path=$2
    [[ -e $path ]] || die "library $path not found on the host"
    mkdir -p "$root$(dirname "$path")"
    [[ -e $root$path ]] || cp -L "$path" "$root$path"
}

# Absolute paths of the libraries ldd lists for a file (none for a static file).
ldd_paths() {
    local out
    out=$(ldd "$1" 2>&1) || { grep -qiE 'not a dynamic|statically linked' <<<"$out" && return 0; die "ldd $1 failed: $out"; }
    if grep -q 'not found' <<<"$out"; then die "ldd $1: missing libraries: $(grep 'not found' <<<"$out" | tr -s ' \t' ' ')"; fi
    awk '/=>/ && $3 ~ /^\// {print $3} !/=>/ && $1 ~ /^\// {print $1}' <<<"$out"
}

cmd_initramfs() {
    [[ $# -eq 3 ]] || usage
    local pub=$1 exe=$2 out=$3
    [[ -d $pub ]] || die "publish dir $pub does not exist"
    [[ $exe != */* && -n $exe ]] || die "exe name must be a plain file name, got '$exe'"
    [[ -f $pub/$exe && -x $pub/$exe ]] || die "$pub/$exe is not an executable file"
    local rel; rel=$(current_release) || die "no kernel cached in $CACHE; run: $PROG prepare"
    local kdir=$CACHE/$rel
    local bb; bb=$(command -v busybox || true)
    [[ -n $bb ]] || die "busybox not found; run: $PROG prepare"
    pub=$(cd "$pub" && pwd)
    out=$(realpath -m "$out")
    mkdir -p "$(dirname "$out")"

    # Libraries: what ldd lists for the exe and busybox, plus what .NET may dlopen at run time.
    local libs=() l lddout
    lddout=$(ldd_paths "$pub/$exe")
    lddout+=$'\n'$(ldd_paths "$bb")
    mapfile -t libs < <(grep . <<<"$lddout" || true)
    local extra ldcache
    ldcache=$(ldconfig -p)
    # libssl/libcrypto: System.Security.Cryptography (xunit v3 hashes test IDs with SHA-256) dlopens them.
    for extra in libc.so.6 libm.so.6 libdl.so.2 librt.so.1 libpthread.so.0 libstdc++.so.6 libgcc_s.so.1 libssl.so.3 libcrypto.so.3; do
        l=$(awk -v n="$extra" '$1 == n && /x86-64/ && !done {print $NF; done = 1}' <<<"$ldcache")
        if [[ -n $l ]]; then libs+=("$l"); else note "warning: $extra not found on the host (ldconfig -p); not included"; fi
    done
    mapfile -t libs < <(printf '%s\n' "${libs[@]}" | sort -u)

    # Input key: script, kernel, busybox, libraries, published files, exe name.
    local key
    key=$( {
        echo "v$SCRIPT_VERSION $rel $exe"
        sha256sum "$0" "$bb" "${libs[@]}" "$kdir"/modules/*.ko | awk '{print $1}'
        (cd "$pub" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
    } | sha256sum | awk '{print $1}')
    if [[ -f $out && -f $out.key && $(<"$out.key") == "$key" ]]; then
        note "initramfs up to date: $out ($(du -h "$out" | cut -f1))"
        echo "$out"
        return 0
    fi

    local stage; stage=$(mktemp -d)
    trap 'rm -rf "$stage"' EXIT
    mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,modules,oracle,root}
    cp "$bb" "$stage/bin/busybox"
    # The applet symlinks are made by /init in the guest (busybox --install -s): 270 ln forks here are slow.
    for l in "${libs[@]}"; do copy_lib "$stage" "$l"; done
    # The loader must be at the exe's PT_INTERP path.
    [[ -e $stage/lib64/ld-linux-x86-64.so.2 ]] || copy_lib "$stage" /lib64/ld-linux-x86-64.so.2
    cp "$kdir"/modules/*.ko "$kdir/modules/order" "$stage/modules/"
    cp -a "$pub/." "$stage/oracle/"
    echo "root:x:0:0:root:/tmp:/bin/sh" >"$stage/etc/passwd"
    echo "root:x:0:" >"$stage/etc/group"
    guest_init | sed -e "s|@MODREL@|$rel|" -e "s|@EXE@|$exe|" >"$stage/init"
    chmod 755 "$stage/init"

    local tmpout; tmpout=$(mktemp "$out.XXXXXX")
    local compress
    case $out in
        *.gz) compress=(gzip -1) ;;
        *.zst) command -v zstd >/dev/null || die "$out: zstd not installed"; compress=(zstd -q -3 -T0) ;;
        *.xz) compress=(xz -1 --check=crc32 -T0) ;;
        *) compress=(cat) ;;
    esac
    (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | "$bb" cpio -o -H newc 2>/dev/null | "${compress[@]}" >"$tmpout") \
        || { rm -f "$tmpout"; die "building the cpio archive failed"; }
    chmod 644 "$tmpout"
    mv "$tmpout" "$out"
    echo "$key" >"$out.key"
    rm -rf "$stage"; trap - EXIT
    note "initramfs $out ($(du -h "$out" | cut -f1)) for kernel $rel, exe /oracle/$exe"
    echo "$out"
}

# %XX-encode one string (bytes outside [A-Za-z0-9._/:=+@-]).
penc() {
    local LC_ALL=C s=$1 o='' c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
            [A-Za-z0-9._/:=+@-]) o+=$c ;;
            *) printf -v c '%%%02X' "'$c"; o+=$c ;;
        esac
    done
    printf '%s' "$o"
}

cmd_boot() {
    [[ $# -ge 1 ]] || usage
    local initrd=$1; shift
    [[ -f $initrd ]] || die "initramfs $initrd not found"
    local rel; rel=$(current_release) || die "no kernel cached in $CACHE; run: $PROG prepare"
    command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found; run: $PROG prepare"
    local timeout=${CPUIDF_TCG_TIMEOUT:-600}
    [[ $timeout =~ ^[0-9]+$ ]] || die "CPUIDF_TCG_TIMEOUT must be a whole number of seconds"

    local enc='' a first=1
    for a in "$@"; do
        [[ $first -eq 1 ]] || enc+=,
        enc+=$(penc "$a"); first=0
    done
    local envenc='' first=1 e
    for e in ${CPUIDF_TCG_ENV:-}; do
        [[ $e == *=* ]] || die "CPUIDF_TCG_ENV entries must be NAME=VALUE, got '$e'"
        [[ $first -eq 1 ]] || envenc+=,
        envenc+=$(penc "$e"); first=0
    done
    local append="console=ttyS0 quiet rdinit=/init panic=-1 cpuidf.argc=$# cpuidf.args=$enc"
    append+=" cpuidf.kvm_amd=$(penc "${CPUIDF_TCG_KVM_AMD_PARAMS:-nested=1}")"
    [[ -n $envenc ]] && append+=" cpuidf.env=$envenc"
    [[ ${CPUIDF_TCG_DMESG:-0} == 1 ]] && append+=" cpuidf.dmesg=1"
    [[ ${#append} -lt 2000 ]] || die "kernel command line too long (${#append} bytes; the limit is 2048): pass less in args"

    local kimg=$CACHE/$rel/vmlinux
    case ${CPUIDF_TCG_KERNEL_IMAGE:-vmlinux} in
        vmlinux) [[ -s $kimg ]] || kimg=$CACHE/$rel/vmlinuz ;;
        bzimage) kimg=$CACHE/$rel/vmlinuz ;;
        *) die "CPUIDF_TCG_KERNEL_IMAGE must be vmlinux or bzimage" ;;
    esac
    local extra=()
    # shellcheck disable=SC2206
    [[ -n ${CPUIDF_TCG_QEMU_ARGS:-} ]] && extra=(${CPUIDF_TCG_QEMU_ARGS})
    local log; log=$(mktemp)
    local rc
    set +e
    trap - ERR
    timeout -k 5 "$timeout" qemu-system-x86_64 -accel tcg -cpu "${CPUIDF_TCG_CPU:-max}" \
        -m "${CPUIDF_TCG_MEM:-2048}" -smp "${CPUIDF_TCG_SMP:-1}" \
        -kernel "$kimg" -initrd "$initrd" -append "$append" \
        -nographic -no-reboot -nic none "${extra[@]}" </dev/null 2>&1 \
        | sed -u -e 's/\r$//' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' \
            -e 's/\(.\)\(CPUIDF-GUEST-[A-Z]\)/\1\n\2/g' | tee -p "$log"
    local st=("${PIPESTATUS[@]}")
    trap 'on_err $? "$BASH_COMMAND" $LINENO' ERR
    set -e
    rc=${st[0]}
    if [[ $rc -eq 124 ]]; then
        note "timed out after ${timeout}s (CPUIDF_TCG_TIMEOUT)"
        rm -f "$log"; exit 124
    fi
    local end
    end=$(grep -ao 'CPUIDF-GUEST-END [0-9]\+' "$log" | tail -n1 | awk '{print $2}' || true)
    if [[ -z $end ]]; then
        local err; err=$(grep -ao 'CPUIDF-GUEST-ERROR .*' "$log" | tail -n1 || true)
        if [[ -n $err ]]; then note "guest failed: ${err#CPUIDF-GUEST-ERROR }"
        else note "no CPUIDF-GUEST-END line (qemu exit status $rc)"; fi
        rm -f "$log"; exit 3
    fi
    rm -f "$log"
    exit "$end"
}

cmd_status() {
    [[ $# -eq 0 ]] || usage
    command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86_64 not installed"; exit 1; }
    command -v busybox >/dev/null || { echo "busybox not installed"; exit 1; }
    current_release || { echo "no kernel cached in $CACHE"; exit 1; }
    echo
}

# A framework-dependent .NET app (e.g. a test project's bin folder) with the host's own runtime: the dotnet
# muxer, hostfxr and the newest Microsoft.NETCore.App go to /oracle/dotnet, the app to /oracle/app, and a
# launcher runs `dotnet exec <entry.dll> args`. Globalization is invariant (no ICU in the image) and
# CPUIDF_TCG_GUEST=1 tells the program where it runs.
cmd_run() {
    [[ $# -ge 2 ]] || usage
    local app=$1 entry=$2; shift 2
    [[ -d $app ]] || die "app dir $app does not exist"
    [[ -f $app/$entry ]] || die "$app/$entry not found"
    local dotnet; dotnet=$(command -v dotnet) || die "dotnet not on PATH"
    local root; root=$(dirname "$(readlink -f "$dotnet")")
    local fw; fw=$(find "$root/shared/Microsoft.NETCore.App" -mindepth 1 -maxdepth 1 -type d | sort -V | tail -n1)
    [[ -n $fw ]] || die "no Microsoft.NETCore.App runtime under $root/shared"
    local fxr; fxr=$(find "$root/host/fxr" -mindepth 1 -maxdepth 1 -type d | sort -V | tail -n1)
    [[ -n $fxr ]] || die "no hostfxr under $root/host/fxr"
    mkdir -p "$CACHE"
    # A private folder per run: two test runs on one machine (two checkouts, say) must not share a stage.
    local work; work=$(mktemp -d "$CACHE/run.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    local stage=$work/stage
    mkdir -p "$stage/dotnet/shared/Microsoft.NETCore.App" "$stage/dotnet/host/fxr" "$stage/app"
    cp "$root/dotnet" "$stage/dotnet/"
    cp -r "$fxr" "$stage/dotnet/host/fxr/"
    cp -r "$fw" "$stage/dotnet/shared/Microsoft.NETCore.App/"
    cp -r "$app/." "$stage/app/"
    printf '#!/bin/sh\nexec /oracle/dotnet/dotnet exec /oracle/app/%s "$@"\n' "$entry" >"$stage/run-app"
    chmod 755 "$stage/run-app"
    local initrd
    initrd=$(cmd_initramfs "$stage" run-app "$work/run.cpio" | tail -n1)
    CPUIDF_TCG_ENV="DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 CPUIDF_TCG_GUEST=1 ${CPUIDF_TCG_ENV:-}" cmd_boot "$initrd" "$@"
}

[[ $# -ge 1 ]] || usage
cmd=$1; shift
case $cmd in
    prepare) cmd_prepare "$@" ;;
    kernel-release) cmd_kernel_release "$@" ;;
    initramfs) cmd_initramfs "$@" ;;
    boot) cmd_boot "$@" ;;
    run) cmd_run "$@" ;;
    status) cmd_status "$@" ;;
    -h|--help|help) usage 0 ;;
    *) note "unknown command '$cmd'"; usage ;;
esac
