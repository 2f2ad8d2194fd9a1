/**
 * A `bash -c` script that runs its arguments with stdout on a pipe whose reader has already exited and
 * been waited for: the first write gets EPIPE every time, with no race against a reader closing.
 */
export const GONE_READER = 'exec 3> >(:); wait $!; exec "$@" >&3 3>&-';
