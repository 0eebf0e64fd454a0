// What moving a process into a cgroup v1 hierarchy costs (issue 19, item 1): a child
// writes "0" to cgroup.procs in the five v1 hierarchies the daemon uses, as the init's
// first instructions do, 40 times after a pause of GAP microseconds (set below).
// Not built by CMake (a one-off measurement, like seed-approach.sh); as root:
//   gcc -O2 -o /tmp/v1-migration bench/cgroup_v1_migration.c && /tmp/v1-migration
// It makes and removes /sys/fs/cgroup/<hierarchy>/leadmig.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <time.h>
#include <sys/wait.h>
#include <sys/stat.h>
#ifndef GAP
#define GAP 200000
#endif
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1e3+t.tv_nsec/1e6;}
int cmp(const void*a,const void*b){double x=*(double*)a,y=*(double*)b;return x<y?-1:x>y;}
int main(){
  const char* hs[]={"cpu","cpuacct","freezer","memory","pids"};
  char p[256]; double first[40], rest[40];
  for(int h=0;h<5;h++){snprintf(p,sizeof p,"/sys/fs/cgroup/%s/leadmig",hs[h]);mkdir(p,0755);}
  for(int r=0;r<40;r++){
    usleep(GAP);
    int fds[5]; for(int h=0;h<5;h++){snprintf(p,sizeof p,"/sys/fs/cgroup/%s/leadmig/cgroup.procs",hs[h]);fds[h]=open(p,O_WRONLY);}
    int pp[2]; pipe(pp);
    pid_t c=fork();
    if(c==0){ double t0=now(); write(fds[0],"0",1); double t1=now(); for(int h=1;h<5;h++) write(fds[h],"0",1); double t2=now();
      double v[2]={t1-t0,t2-t1}; write(pp[1],v,sizeof v); _exit(0);}
    double v[2]; read(pp[0],v,sizeof v); waitpid(c,0,0); first[r]=v[0]; rest[r]=v[1];
    for(int h=0;h<5;h++) close(fds[h]); close(pp[0]); close(pp[1]);
  }
  for(int h=0;h<5;h++){snprintf(p,sizeof p,"/sys/fs/cgroup/%s/leadmig",hs[h]);rmdir(p);}
  qsort(first,40,sizeof(double),cmp); qsort(rest,40,sizeof(double),cmp);
  printf("first cgroup.procs write: median %.3f ms p90 %.3f; next four together: median %.3f ms\n", first[20], first[36], rest[20]);
}
