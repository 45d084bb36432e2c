// bench-ready FIFO: the service of the boot-scale benchmark. Says "running" by writing one
// byte to FIFO, then waits for the signal that stops it. Static and tiny, so what is measured
// is the start-up around it.
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  int fifo = ::open(argv[1], O_WRONLY | O_CLOEXEC);
  if (fifo < 0 || ::write(fifo, "r", 1) != 1) return 1;
  ::close(fifo);
  for (;;) ::pause();
}
