#!/bin/sh
# A stand-in application for the example image. It shows where the secrets
# arrive, printing their sizes and never their values.
set -eu

password_bytes=$(wc -c <"$DB_PASSWORD_FILE")
backup_key_bytes=$(wc -c <&3)
echo "DB_PASSWORD_FILE=$DB_PASSWORD_FILE ($password_bytes bytes)"
echo "descriptor 3: backup key ($backup_key_bytes bytes)"
echo "SECRETFD_FDS=$SECRETFD_FDS"
