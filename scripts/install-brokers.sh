#!/bin/sh
# Install the message brokers the pub/sub manager tests start privately (tests/socketio_core/
# brokers): Debian's redis-server and rabbitmq-server. Nothing is started or enabled here: the
# tests run each broker on loopback ports of their own and stop it afterwards.
set -eu
missing=""
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || missing="$missing rabbitmq-server"
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-brokers: no apt-get; install$missing by hand" >&2
	exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-brokers: installing$missing"
# Debian's packages start the services when a service manager runs (not in containers); the
# tests never use those instances, so ask policy-rc.d to keep them from starting.
policy=/usr/sbin/policy-rc.d
created=""
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod +x "$policy"
	created=1
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
	--no-install-recommends $missing
[ -n "$created" ] && $SUDO rm -f "$policy"
exit 0
