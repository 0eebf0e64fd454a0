/* The contract between the daemon and isolated-init (the PID 1 of every sandbox).
 * Plain C so both the C++ daemon and the static C init include it.
 *
 * The daemon clone3()s a child that execs the init with these descriptors:
 *   0,1,2  /dev/null
 *   3      the launch plan (a sealed memfd holding TLV records, below)
 *   4      the report pipe (write end): the init writes struct init_report messages
 *   5      the log directory (O_DIRECTORY): the init writes <log_name>, rotates it
 *   6      the app's run directory (O_DIRECTORY): the init writes "exit" there
 * and nothing else (close_range). argv = {"isolated-init", APP}, empty environment.
 *
 * The init reports exactly one of REPORT_STARTED (the app was exec'd) or
 * REPORT_FAILED (setup or exec failed: step, errno, detail), then, when the app exits,
 * writes the exit record and exits with the app's code (128+signal when signalled).
 */
#ifndef ISOLATED_INIT_PROTOCOL_H
#define ISOLATED_INIT_PROTOCOL_H

#include <stdint.h>

#define INIT_FD_PLAN 3
#define INIT_FD_REPORT 4
#define INIT_FD_LOGDIR 5
#define INIT_FD_RUNDIR 6
#define INIT_FD_FIRST_FREE 7

/* ---- the plan: a sequence of records { uint32 tag; uint32 len; byte value[len] } ---- */
enum plan_tag {
    PLAN_ARG = 1,        /* one argv element (repeated, in order)            */
    PLAN_ENV = 2,        /* one "NAME=value" (repeated)                      */
    PLAN_WORKDIR = 3,    /* absolute path inside the sandbox                 */
    PLAN_LOG_NAME = 4,   /* file name in the log dir, e.g. "web.log"         */
    PLAN_LOG_MAX_SIZE = 5,  /* uint64: rotate when the file would exceed it  */
    PLAN_LOG_MAX_FILES = 6, /* uint32: files kept including the current one  */
    PLAN_APP_NAME = 7,   /* the app's name (for messages)                    */
    PLAN_INSTANCE = 8,   /* the daemon's id of this launch, echoed in the exit record */
};

/* ---- reports: fixed-size, written in one write() (< PIPE_BUF, so atomic) ---- */
enum report_kind {
    REPORT_STARTED = 1,  /* pid = the app's pid as the init sees it          */
    REPORT_FAILED = 2,   /* step, err, detail                                */
};

/* Where a launch failed; the daemon turns these into messages. */
enum init_step {
    STEP_NONE = 0,
    STEP_EXEC_INIT = 1,  /* the daemon's child could not exec the init       */
    STEP_READ_PLAN = 2,
    STEP_SIGNALS = 3,
    STEP_OPEN_LOG = 4,
    STEP_PIPES = 5,
    STEP_FORK = 6,
    STEP_CHDIR = 7,
    STEP_EXEC = 8,       /* execve of the app's command                      */
    STEP_RESOLVE = 9,    /* the command was not found on PATH                */
};

#define INIT_REPORT_DETAIL 240

struct init_report {
    uint32_t kind;
    int32_t step;
    int32_t err;
    int32_t pid;
    char detail[INIT_REPORT_DETAIL]; /* NUL-terminated */
};

/* Exit codes for launches that never ran the app (Docker's convention). */
#define INIT_EXIT_SETUP_FAILED 125 /* the sandbox could not be built        */
#define INIT_EXIT_NOT_EXECUTABLE 126
#define INIT_EXIT_NOT_FOUND 127

/* The exit record, <run>/apps/<app>/exit, written atomically (tmp + rename):
 *   instance=<PLAN_INSTANCE of the launch>
 *   code=<exit code, or 128+signal>
 *   signal=<0, or the signal that killed the app>
 *   at=<seconds>.<nanoseconds> (CLOCK_REALTIME)
 *   message=<text, may be empty>
 * The daemon removes it before each launch and checks `instance`, so a record is never
 * mistaken for another run's -- also by a daemon that adopted the app later. */
#define INIT_EXIT_FILE "exit"

#endif
