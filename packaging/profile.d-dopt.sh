# /etc/profile.d/dopt.sh: every user's dopt commands use the machine's daemon.
export DOPT_DATA_DIR=/var/lib/dopt
