#!/bin/sh
# Entrypoint of the provisioner image. Fly mounts a volume over the data dir
# owned by root, so when started as root this hands the data dir to the
# `provisioner` user and drops to it; the provisioner itself never runs as
# root. Started as any other user, it runs the provisioner as that user.
set -eu

data_dir="${PROVISIONER_DATA_DIR:-/data}"

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$data_dir"
    # Only when needed: a volume that already belongs to the user is left as
    # it is, so a large data dir is not walked at every boot.
    if [ "$(stat -c %U "$data_dir")" != provisioner ]; then
        chown -R provisioner:provisioner "$data_dir"
    fi
    exec setpriv --reuid=provisioner --regid=provisioner --init-groups --inh-caps=-all \
        -- provisioner "$@"
fi

exec provisioner "$@"
