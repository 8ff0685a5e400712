// File: launch/run_env.h
//
// What the launcher (mpirun, srun, PMIx) says about this process, read from the environment in
// this one place. Nothing below launch/ reads environment variables.
#pragma once

namespace switchyard::launch {

struct RunEnv {
  int world_size = 0;  // 0 = not started by a known launcher
  int world_rank = 0;
  int local_rank = 0;
  int local_size = 0;
};

// Open MPI (OMPI_COMM_WORLD_*), PMIx (PMIX_RANK), Slurm (SLURM_NTASKS, SLURM_PROCID,
// SLURM_LOCALID), in that order of preference.
RunEnv read_run_env();

}  // namespace switchyard::launch
