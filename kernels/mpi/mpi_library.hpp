#pragma once
// Open MPI, loaded at run time. privrec neither links libmpi nor includes its headers: the binary
// that runs on the GPU machine needs nothing but glibc (see tools/gpu-bundle.sh), and one build
// serves both. When `privrec train` runs under mpirun, it dlopens libmpi.so.40 (Open MPI 3 to 5),
// resolves the few functions the sharded run uses and the predefined handles they take.
#include <string>

namespace privrec::mpi {

// Open MPI's handles are pointers to its objects: MPI_Comm, MPI_Datatype and MPI_Op are passed as
// such, and the predefined ones (MPI_COMM_WORLD, MPI_DOUBLE, MPI_SUM, ...) are the addresses of
// the library's global objects (ompi_mpi_comm_world, ...), resolved here with dlsym. Status
// arguments are always MPI_STATUS_IGNORE, a null pointer; MPI_THREAD_FUNNELED is 1, MPI_SUCCESS 0.
using Handle = void*;
constexpr int kThreadFunneled = 1;
constexpr int kSuccess = 0;

struct MpiApi {
  std::string path;     // what was opened
  std::string why_not;  // empty when every symbol below resolved
  int (*initialized)(int*) = nullptr;
  int (*init_thread)(int*, char***, int, int*) = nullptr;
  int (*finalized)(int*) = nullptr;
  int (*finalize)() = nullptr;
  int (*comm_rank)(Handle, int*) = nullptr;
  int (*comm_size)(Handle, int*) = nullptr;
  int (*alltoall)(const void*, int, Handle, void*, int, Handle, Handle) = nullptr;
  int (*alltoallv)(const void*, const int*, const int*, Handle, void*, const int*, const int*, Handle, Handle) = nullptr;
  int (*allgather)(const void*, int, Handle, void*, int, Handle, Handle) = nullptr;
  int (*sendrecv)(const void*, int, Handle, int, int, void*, int, Handle, int, int, Handle, void*) = nullptr;
  int (*send)(const void*, int, Handle, int, int, Handle) = nullptr;
  int (*recv)(void*, int, Handle, int, int, Handle, void*) = nullptr;
  int (*barrier)(Handle) = nullptr;
  int (*abort)(Handle, int) = nullptr;
  int (*comm_set_errhandler)(Handle, Handle) = nullptr;
  Handle comm_world = nullptr, byte = nullptr, int64 = nullptr, errors_return = nullptr;
  bool ok() const { return why_not.empty(); }
};

// Opens libmpi once (PRIVREC_MPI_PATH names the file; otherwise libmpi.so.40, then libmpi.so) and
// resolves every symbol; never throws. RTLD_GLOBAL: Open MPI's own plug-ins bind to libmpi's symbols.
const MpiApi& load_mpi();

// The ranks Open MPI's mpirun started this process among, from the environment it sets
// (OMPI_COMM_WORLD_SIZE and _RANK), before MPI is initialised: 1 and 0 when not launched so.
int launched_ranks();
int launched_rank();

}  // namespace privrec::mpi
