// A deliberate leak, run under the sanitizer test environment (test sanitizer.leak_is_reported,
// which passes only on LeakSanitizer's report of these 77 bytes): proves that the environment of
// the sanitizer runs (the preloaded keep_plugins_loaded library, fast unwinding, the suppressions
// of lsan.supp) still reports a leak in our own code instead of hiding it.
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  char* volatile buffer = malloc(77);
  if (buffer == NULL) return 3;
  buffer[0] = 'x';
  printf("leaking %c\n", buffer[0]);
  buffer = NULL;
  return 0;
}
