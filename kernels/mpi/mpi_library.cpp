#include "kernels/mpi/mpi_library.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <vector>

namespace privrec::mpi {

namespace {
template <class Fn>
void resolve(void* lib, const char* name, Fn& fn, std::string& why_not) {
  fn = reinterpret_cast<Fn>(dlsym(lib, name));
  if (!fn && why_not.empty()) why_not = std::string("symbol ") + name + " is missing";
}

void resolve_object(void* lib, const char* name, Handle& h, std::string& why_not) {
  h = dlsym(lib, name);
  if (!h && why_not.empty()) why_not = std::string("symbol ") + name + " is missing (not Open MPI?)";
}

MpiApi open_mpi() {
  MpiApi api;
  std::vector<std::string> names;
  if (const char* p = std::getenv("PRIVREC_MPI_PATH"); p && *p) names = {p};
  else names = {"libmpi.so.40", "libmpi.so"};
  void* lib = nullptr;
  std::string errors;
  for (const auto& n : names) {
    lib = dlopen(n.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (lib) {
      api.path = n;
      break;
    }
    const char* e = dlerror();
    errors += (errors.empty() ? "" : "; ") + std::string(e ? e : n + ": dlopen failed");
  }
  if (!lib) {
    api.why_not = "Open MPI's library could not be opened (" + errors + "); install it with apt-get install openmpi-bin";
    return api;
  }
  std::string& w = api.why_not;
  resolve(lib, "MPI_Initialized", api.initialized, w);
  resolve(lib, "MPI_Init_thread", api.init_thread, w);
  resolve(lib, "MPI_Finalized", api.finalized, w);
  resolve(lib, "MPI_Finalize", api.finalize, w);
  resolve(lib, "MPI_Comm_rank", api.comm_rank, w);
  resolve(lib, "MPI_Comm_size", api.comm_size, w);
  resolve(lib, "MPI_Alltoall", api.alltoall, w);
  resolve(lib, "MPI_Alltoallv", api.alltoallv, w);
  resolve(lib, "MPI_Allgather", api.allgather, w);
  resolve(lib, "MPI_Sendrecv", api.sendrecv, w);
  resolve(lib, "MPI_Send", api.send, w);
  resolve(lib, "MPI_Recv", api.recv, w);
  resolve(lib, "MPI_Barrier", api.barrier, w);
  resolve(lib, "MPI_Abort", api.abort, w);
  resolve(lib, "MPI_Comm_set_errhandler", api.comm_set_errhandler, w);
  resolve_object(lib, "ompi_mpi_comm_world", api.comm_world, w);
  resolve_object(lib, "ompi_mpi_byte", api.byte, w);
  resolve_object(lib, "ompi_mpi_int64_t", api.int64, w);
  resolve_object(lib, "ompi_mpi_errors_return", api.errors_return, w);
  if (!w.empty()) w = api.path + ": " + w;
  return api;
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}
}  // namespace

const MpiApi& load_mpi() {
  static const MpiApi api = open_mpi();
  return api;
}

int launched_ranks() { return env_int("OMPI_COMM_WORLD_SIZE", 1); }
int launched_rank() { return env_int("OMPI_COMM_WORLD_RANK", 0); }

}  // namespace privrec::mpi
