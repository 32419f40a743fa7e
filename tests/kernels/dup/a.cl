/* a.cl - test input: defines cl16_twice, as does b.cl; embedding both must fail. */
__kernel void cl16_twice(__global float *x) { x[0] = 1.0f; }
