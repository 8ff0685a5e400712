// A deliberate data race, run under the sanitizer test environment of a ThreadSanitizer build
// (test sanitizer.race_is_reported, which passes only on ThreadSanitizer's report of it): proves
// that tests/sanitizers/tsan.supp, written for Open MPI and LibTorch, does not hide a race in our
// own code.
#include <pthread.h>
#include <stdio.h>

static int shared_counter;

static void* increment(void* unused) {
  (void)unused;
  for (int i = 0; i < 1000; ++i) shared_counter++;
  return NULL;
}

int main(void) {
  pthread_t threads[2];
  for (int t = 0; t < 2; ++t) pthread_create(&threads[t], NULL, increment, NULL);
  for (int t = 0; t < 2; ++t) pthread_join(threads[t], NULL);
  printf("counter %d\n", shared_counter);
  return 0;
}
