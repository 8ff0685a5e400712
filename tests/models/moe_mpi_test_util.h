// Helpers shared by the MoE layer's distributed == single-process MPI tests.
#pragma once

#include <mpi.h>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "comm/communicator.h"
#include "comm/process_groups.h"
#include "models/moe/moe_layer.h"
#include "tests/testing/mpi_world.h"

namespace switchyard::models::testing {

using switchyard::testing::world_size;

// Sums gradients like the trainer does before its 1/W scale: dense (router) parameters over the
// world, expert parameters over the expert-data group (ranks holding the same experts).
inline void sync_gradients(MoELayer& layer, const comm::ProcessGroups& groups) {
  for (auto& item : layer->named_parameters()) {
    at::Tensor grad = item.value().grad();
    ASSERT_TRUE(grad.defined()) << item.key();
    const bool expert = item.key().rfind("experts.", 0) == 0;
    comm::Communicator& group = expert ? *groups.expert_data : *groups.world;
    if (group.size() > 1) group.all_reduce(grad)->wait();
  }
}

}  // namespace switchyard::models::testing
