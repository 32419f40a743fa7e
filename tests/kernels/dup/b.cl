/* b.cl - test input: a second definition of cl16_twice. */
__kernel void cl16_twice(__global float *x) { x[0] = 2.0f; }
