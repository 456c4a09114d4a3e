// One registration function per binding file; module.cpp calls them all.
#pragma once

#include <pybind11/pybind11.h>

namespace sr_native::bind {
void register_conv2d(pybind11::module_& m);
void register_pixel_shuffle(pybind11::module_& m);
void register_activations(pybind11::module_& m);
void register_losses(pybind11::module_& m);
void register_elementwise(pybind11::module_& m);
void register_machine(pybind11::module_& m);
void register_resize(pybind11::module_& m);
}  // namespace sr_native::bind
