#!/bin/sh
# Entry point of the vsftpd app: prepares what vsftpd expects on the sandbox's private
# tmpfs and on its data volume, then becomes vsftpd (exec: vsftpd is the app's main
# process). FTP_PASV_ADDRESS: the address FTP clients connect to (the host's), which
# PASV replies must announce because clients reach vsftpd through a DNAT forward.
set -eu
mkdir -p /run/vsftpd/empty
chown ftp:ftp /srv/ftp
if [ -n "${FTP_PASV_ADDRESS:-}" ]; then
    exec /usr/sbin/vsftpd /opt/isolated/vsftpd.conf "-opasv_address=$FTP_PASV_ADDRESS"
fi
exec /usr/sbin/vsftpd /opt/isolated/vsftpd.conf
