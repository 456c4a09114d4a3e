// The DLPack exchange structs (ABI of DLPack 0.8 / the unversioned
// "dltensor" capsule that PyTorch, CuPy and NumPy all accept and produce).
// Only what sr_native uses: written from the published layout.
#pragma once

#include <cstdint>

namespace sr_native::dlpack {

enum DeviceType : int32_t { kCPU = 1, kCUDA = 2, kCUDAHost = 3, kCUDAManaged = 13 };
enum TypeCode : uint8_t { kInt = 0, kUInt = 1, kFloat = 2 };

struct Device {
    int32_t device_type;
    int32_t device_id;
};

struct DataType {
    uint8_t code;
    uint8_t bits;
    uint16_t lanes;
};

struct Tensor {
    void* data;
    Device device;
    int32_t ndim;
    DataType dtype;
    int64_t* shape;
    int64_t* strides;  // in elements; null means compact C order
    uint64_t byte_offset;
};

struct ManagedTensor {
    Tensor dl_tensor;
    void* manager_ctx;
    void (*deleter)(ManagedTensor* self);
};

// Capsule names: a producer's capsule is "dltensor"; a consumer renames it
// "used_dltensor" once it owns the tensor, so the capsule's destructor knows
// whether to call the deleter.
constexpr const char* kCapsuleName = "dltensor";
constexpr const char* kUsedCapsuleName = "used_dltensor";

}  // namespace sr_native::dlpack
