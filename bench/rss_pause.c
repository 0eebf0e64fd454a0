/* The smallest process: a C program that only sleeps. Its VmRSS is what libc and the
   kernel cost any process (issue 19, item 4: the floor below the daemon's floor). */
#include <unistd.h>

int main(void) {
    pause();
    return 0;
}
