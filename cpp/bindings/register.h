// One registration function per binding file; module.cpp calls them all.
#pragma once

#include <pybind11/pybind11.h>

namespace sr_native::bind {
void register_conv2d(pybind11::module_& m);
void register_conv_transpose2d(pybind11::module_& m);
void register_pixel_shuffle(pybind11::module_& m);
void register_activations(pybind11::module_& m);
void register_batch_norm(pybind11::module_& m);
void register_global_avg_pool(pybind11::module_& m);
void register_sigmoid(pybind11::module_& m);
void register_channel_gate(pybind11::module_& m);
void register_pixel_gate(pybind11::module_& m);
void register_losses(pybind11::module_& m);
void register_elementwise(pybind11::module_& m);
void register_machine(pybind11::module_& m);
void register_resize(pybind11::module_& m);
void register_max_pool2d(pybind11::module_& m);
}  // namespace sr_native::bind
