// Preloaded into every process of a sanitizer test run (tests/sanitizers/CMakeLists.txt): makes
// dlclose() a no-op, so that the plugins Open MPI 4.1 and PMIx dlopen (mca_*.so) and unload at
// MPI_Finalize are still mapped when LeakSanitizer reports at exit. Their process-lifetime
// allocations then carry the plugin's name and match tests/sanitizers/lsan.supp; unloaded, they
// show as "<unknown module>", which no suppression can name. Open MPI 4.1 has no MCA parameter
// that keeps components loaded (5.0's mca_base_component_disable_dlclose does not exist there).
//
// Built without sanitizers: it is also preloaded into the uninstrumented processes a test starts
// (mpiexec, orted, bash, python), where it changes nothing but the unloading of libraries.
int dlclose(void* handle) {
  (void)handle;
  return 0;
}
