// The switchyard executable: see launch/cli.h for the command line.
#include "launch/cli.h"

int main(int argc, char** argv) { return switchyard::launch::run_cli(argc, argv); }
