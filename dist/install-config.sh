#!/bin/sh
# install-config.sh SAMPLE SYSCONFDIR - meson install script (dist/meson.build).
#
# Installs SAMPLE as SYSCONFDIR/fstatcache.conf unless a file is there
# already: `meson install` over an earlier installation must not overwrite
# the administrator's settings, as install_data() would.  A staged install
# (DESTDIR, as packagers do) starts empty, so it always gets the file.
set -eu
sample=$1
dest="${DESTDIR:-}$2/fstatcache.conf"
if [ -e "$dest" ] || [ -L "$dest" ]; then
	echo "Keeping the existing $dest (not replaced by $sample)"
	exit 0
fi
echo "Installing $sample to $dest"
install -D -m 0644 "$sample" "$dest"
