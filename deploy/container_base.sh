#!/bin/sh
# deploy/container_base.sh [IMAGE]: the Containerfile's base image built here, from Debian packages, for a
# machine that has no registry to pull python:3.11-slim from. As root, with Debian's buildah and debootstrap
# (make container-tools):
#
#     deploy/container_base.sh                  # makes localhost/captcha-ocr-base:bookworm, the Containerfile's default BASE
#     buildah bud --isolation chroot --format docker -t captcha-ocr .
#
# A minimal Debian bookworm (debootstrap --variant=minbase) with python3.11 and its venv module (the image's
# pip comes from it), passwd (useradd) and ca-certificates, upgraded from bookworm-updates and
# bookworm-security, without apt's lists, docs, man pages or translations (about 130 MB).
#
# Settings, from the environment:
#   DEBIAN_MIRROR           default: the first bookworm mirror of this machine's apt sources, else deb.debian.org
#   DEBIAN_SECURITY_MIRROR  default: the same for bookworm-security, else http://deb.debian.org/debian-security
#   EXTRA_CA_CERTS          certificates (PEM files, space-separated) the image should trust besides Debian's;
#                           default: this machine's own, /usr/local/share/ca-certificates/*.crt. Where HTTPS goes
#                           through a TLS-inspecting proxy, pip inside the build needs them. EXTRA_CA_CERTS= for none.
#   BUILDAH_ISOLATION       default chroot (for the apt-get run inside the new image)
#
# The image is labelled with this script's sha256 (captcha-ocr.base-script-sha256): tests/test_container.py
# builds it again only when the script changes.
set -eu

IMAGE=${1:-localhost/captcha-ocr-base:bookworm}
SUITE=bookworm
PACKAGES=python3.11,python3-venv,passwd,ca-certificates
export BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"
PATH=$PATH:/usr/sbin:/sbin  # debootstrap's home, not on every root's PATH

# The URI of this machine's apt sources for SUITE (one-line or deb822 format); empty if there is none.
apt_mirror() {
    suite=$1
    for list in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$list" ] && awk -v suite="$suite" '$1 == "deb" && $2 !~ /^\[/ && $3 == suite { print $2; exit }' "$list"
    done
    for sources in /etc/apt/sources.list.d/*.sources; do
        [ -r "$sources" ] && awk -v suite="$suite" '
            /^[[:space:]]*$/ { if (uri && found) exit; uri = ""; found = 0; next }
            $1 == "URIs:" { uri = $2 }
            $1 == "Suites:" { for (i = 2; i <= NF; i++) if ($i == suite) found = 1 }
            END { if (uri && found) print uri }' "$sources"
    done
}

MIRROR=${DEBIAN_MIRROR:-$(apt_mirror $SUITE | head -n 1)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-$(apt_mirror $SUITE-security | head -n 1)}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
if [ -z "${EXTRA_CA_CERTS+set}" ]; then
    EXTRA_CA_CERTS=$(ls /usr/local/share/ca-certificates/*.crt 2>/dev/null || true)
fi

for tool in buildah debootstrap; do
    command -v $tool >/dev/null 2>&1 || { echo "container_base.sh: $tool is missing (apt-get install -y buildah debootstrap; make container-tools)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "container_base.sh: debootstrap needs root" >&2; exit 2; }

container=$(buildah from scratch)
trap 'buildah umount "$container" >/dev/null 2>&1 || true; buildah rm "$container" >/dev/null 2>&1 || true' EXIT
root=$(buildah mount "$container")

echo "container_base.sh: debootstrap $SUITE from $MIRROR" >&2
debootstrap --variant=minbase --include=$PACKAGES $SUITE "$root" "$MIRROR" >&2

cat > "$root/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
for certificate in $EXTRA_CA_CERTS; do
    cp "$certificate" "$root/usr/local/share/ca-certificates/$(basename "$certificate" .crt).crt"
done
# apt's lists and caches, docs (but the copyright files), man pages, translations and logs: nothing the service needs.
cat > "$root/etc/dpkg/dpkg.cfg.d/container-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
buildah run --network host "$container" -- sh -ec '
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get upgrade -y -qq >/dev/null
    update-ca-certificates >/dev/null
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/debconf/*-old /var/log/apt/* /var/log/dpkg.log /var/log/bootstrap.log
    find /usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
    find /usr/share/doc -mindepth 1 -type d -empty -delete
    rm -rf /usr/share/man/* /usr/share/info/* /usr/share/lintian/*
    find /usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
' >&2

buildah config \
    --env LANG=C.UTF-8 \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd python3 \
    --label "captcha-ocr.base-script-sha256=$(sha256sum "$0" | cut -d ' ' -f 1)" \
    --label "org.opencontainers.image.description=Debian $SUITE (debootstrap minbase) with python3.11, for CaptchaOCR's Containerfile" \
    "$container"
buildah umount "$container" >/dev/null
buildah commit --rm --quiet "$container" "$IMAGE" >/dev/null
trap - EXIT
echo "container_base.sh: $IMAGE" >&2
echo "$IMAGE"
