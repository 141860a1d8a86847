package zz_test
const corePurpose = "hub.jupyter.org/node-purpose"
