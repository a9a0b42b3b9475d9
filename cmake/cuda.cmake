# The CUDA driver (RIPVEC_CUDA=ON). CI compiles it with nvcc for sm_80 and sm_90 even though
# it has no GPU; its tests skip at run time when no device is present.
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "")
  set(CMAKE_CUDA_ARCHITECTURES 80 90)
endif()
# CMake 3.25 does not know nvcc's C++20 flag (CUDA 12+ has it): teach it.
set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
set(CMAKE_CUDA_STANDARD 20)

file(GLOB ripvec_cuda_srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/driver/cuda/*.cu)
add_library(ripvec_driver_cuda STATIC ${ripvec_cuda_srcs})
target_include_directories(ripvec_driver_cuda PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(ripvec_driver_cuda PUBLIC ripvec_util CUDA::cudart CUDA::cublas CUDA::cublasLt)
target_compile_options(ripvec_driver_cuda PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -lineinfo -Xptxas=-warn-spills>)
set_target_properties(ripvec_driver_cuda PROPERTIES CUDA_SEPARABLE_COMPILATION OFF
  POSITION_INDEPENDENT_CODE ON)
