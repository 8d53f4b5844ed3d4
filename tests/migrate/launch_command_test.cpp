// Splitting captured launcher command lines into launcher options, entry point and arguments.
#include <gtest/gtest.h>

#include "primus/migrate/launch_command.hpp"

namespace primus::migrate {
namespace {

TEST(LaunchCommand, TorchrunOptionsAreStrippedAndWorldSizeRecorded) {
  auto l = parse_launch_command({"torchrun", "--nproc_per_node", "8", "--nnodes=2", "--node_rank", "0", "--master_addr",
                                 "localhost", "--master-port", "6000", "pretrain_gpt.py", "--num-layers", "2"});
  EXPECT_EQ(l.entry_point, "pretrain_gpt.py");
  EXPECT_EQ(l.arguments, (std::vector<std::string>{"--num-layers", "2"}));
  ASSERT_TRUE(l.world_size);
  EXPECT_EQ(*l.world_size, 16);
}

TEST(LaunchCommand, PythonModuleLaunchAndMpirun) {
  auto l = parse_launch_command({"python3", "-m", "torch.distributed.run", "--nproc-per-node=4", "/opt/Megatron-LM/pretrain_mamba.py", "--lr", "1e-4"});
  EXPECT_EQ(l.entry_point, "/opt/Megatron-LM/pretrain_mamba.py");
  EXPECT_EQ(*l.world_size, 4);
  auto m = parse_launch_command({"mpirun", "-np", "32", "python", "pretrain_gpt.py", "--bf16"});
  EXPECT_EQ(m.entry_point, "pretrain_gpt.py");
  EXPECT_EQ(*m.world_size, 32);
  EXPECT_EQ(m.arguments, (std::vector<std::string>{"--bf16"}));
}

TEST(LaunchCommand, NoEntryPointAndNoWorldSize) {
  auto l = parse_launch_command({"python", "-c", "import torch"});
  EXPECT_TRUE(l.entry_point.empty());
  auto p = parse_launch_command({"python", "pretrain_gpt.py"});
  EXPECT_FALSE(p.world_size.has_value());
}

}  // namespace
}  // namespace primus::migrate
