# Builds the libFuzzer targets (called by tests/fuzz/run.sh; run from the repository root):
#   make -f tests/fuzz/fuzz.mk B=build-fuzz TARGETS="json npy" -j2
# Objects are compiled with -fsanitize=fuzzer-no-link and linked with -fsanitize=fuzzer; stb_image's
# implementation is one shared object; header dependencies are tracked (-MMD), so only what changed rebuilds.
# OPT: optimisation and debug flags (default -O1 -g, for fuzzing; ctest's replay uses -O0 -g1, which
# compiles in 24 s instead of 60 s on 2 cores). Flags are not tracked: use one build folder per OPT.
B ?= build-fuzz
TARGETS ?= cifar stl10 idx image safetensors npy yaml json image_cache checkpoint
CXX_FUZZ ?= clang++-14
CXX_SEEDS ?= g++
SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
INC := -Iinclude -Itests/fuzz -I/usr/include/stb -I/usr/include/x86_64-linux-gnu/openblas-openmp
OPT ?= -O1 -g
CXXFLAGS := -std=c++17 $(OPT) -fopenmp $(INC)
LIBS := -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas -lyaml-cpp -lz -ljpeg

all: $(addprefix $(B)/fuzz_,$(TARGETS))

$(B)/stb_impl.cpp:
	@mkdir -p $(B)
	printf '#define GCC_STB_IMPLEMENTATION\n#include <gcc/io/stb.hpp>\n' > $@

$(B)/stb_impl.o: $(B)/stb_impl.cpp
	$(CXX_FUZZ) $(CXXFLAGS) $(SAN) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(B)/fuzz_%.o: tests/fuzz/fuzz_%.cpp
	@mkdir -p $(B)
	$(CXX_FUZZ) $(CXXFLAGS) $(SAN) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(B)/fuzz_%: $(B)/fuzz_%.o $(B)/stb_impl.o
	$(CXX_FUZZ) $(SAN) -fsanitize=fuzzer -fopenmp $^ -o $@ $(LIBS)

$(B)/make_seeds: tests/fuzz/make_seeds.cpp
	@mkdir -p $(B)
	$(CXX_SEEDS) $(CXXFLAGS) -MMD -MP $< -o $@ $(LIBS)

.PRECIOUS: $(B)/fuzz_%.o
-include $(wildcard $(B)/*.d)
