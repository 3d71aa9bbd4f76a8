#!/bin/sh
# Runs in the installer image (Dockerfile) with the host's / at /host and hostPID.
#   rampart-node-install install    copy the binary, write the config, add the CRI handlers,
#                                   restart containerd if config.toml changed, label the node
#   rampart-node-install uninstall  the reverse (the DaemonSet's preStop, or the cleanup Job)
# NODE_NAME comes from the downward API; labelling uses the pod's service account.
set -eu
H=/host
CONF=/etc/containerd/config.toml
host() { nsenter --target 1 --mount --uts --ipc --net --pid -- "$@"; }
sum() { sha256sum "$H$CONF" 2>/dev/null | cut -d' ' -f1 || true; }

# containerd's state as systemd reports it (key=value lines), not a human sentence.
containerd_running() {
    state=$(host systemctl show -p ActiveState -p MainPID containerd)
    echo "$state" | grep -qx 'ActiveState=active' && ! echo "$state" | grep -qx 'MainPID=0'
}
restart_if_changed() { # $1 = checksum before
    if [ "$1" != "$(sum)" ]; then
        if containerd_running; then
            host systemctl restart containerd
        else
            echo "containerd is not running: it will read the new config.toml when it starts" >&2
        fi
    fi
}
label() { # $1 = label argument for kubectl, e.g. rampart.dev/installed=true or rampart.dev/installed-
    if [ -n "${NODE_NAME:-}" ] && command -v kubectl >/dev/null; then
        kubectl label node "$NODE_NAME" "$1" --overwrite
    else
        # No kubectl in the image: the API directly, with the pod's token.
        t=/var/run/secrets/kubernetes.io/serviceaccount
        case "$1" in
            *-) patch='{"metadata":{"labels":{"rampart.dev/installed":null}}}' ;;
            *) patch='{"metadata":{"labels":{"rampart.dev/installed":"true"}}}' ;;
        esac
        curl -sSf --cacert $t/ca.crt -H "Authorization: Bearer $(cat $t/token)" \
            -H 'Content-Type: application/merge-patch+json' -X PATCH -d "$patch" \
            "https://kubernetes.default.svc/api/v1/nodes/$NODE_NAME" >/dev/null
    fi
}

case "${1:-install}" in
install)
    install -D -m 0644 /config/config.toml $H/etc/rampart/config.toml
    install -m 0755 "${RAMPART_BIN:-/usr/local/bin/rampart}" $H/usr/local/bin/.rampart.new
    mv -f $H/usr/local/bin/.rampart.new $H/usr/local/bin/rampart
    # Validates the config and profiles before anything is written (fails closed).
    before=$(sum)
    $H/usr/local/bin/rampart --rampart-config $H/etc/rampart/config.toml \
        install containerd --host-root $H
    restart_if_changed "$before"
    label rampart.dev/installed=true
    ;;
uninstall)
    # Unlabel first: no new pod is scheduled here for a handler about to go away.
    label rampart.dev/installed- || true
    before=$(sum)
    # Links stay: another engine on the node (dockerd) may still use them.
    $H/usr/local/bin/rampart uninstall containerd --host-root $H
    restart_if_changed "$before"
    ;;
*) echo "usage: $0 install|uninstall" >&2; exit 2 ;;
esac
