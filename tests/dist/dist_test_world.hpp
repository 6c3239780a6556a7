// The communicator the gcc_dist_tests suites run on (set up by test_dist_main.cpp): an MpiCommunicator
// under mpirun, a SelfCommunicator otherwise. Tests written against it hold for any number of ranks.
#pragma once
#include "gcc/dist/communicator.hpp"

gcc::dist::Communicator& dist_test_world();
