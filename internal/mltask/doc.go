// Package mltask runs MLTasks in one cluster: the admission loop that
// hands out GPU quota (internal/gpuqueue decides, this package reads the
// queues and tasks and writes the decisions) and the task controller that
// turns each MLTask into Kubernetes objects and reports their state.
//
//   - Training: an Indexed Job (completions = parallelism = workers,
//     suspended until admitted) and a headless Service, so that worker i
//     is <task>-i.<task>.<namespace>.svc; every worker gets MASTER_ADDR,
//     MASTER_PORT, WORLD_SIZE, RANK / NODE_RANK and torchrun's PET_*.
//   - Interactive: a StatefulSet (0 replicas while queued or stopped) and
//     a headless Service; people exec into <task>-0.
//
// Both carry owner references to the MLTask, so deleting it deletes them.
// Admission is recorded in the MLTask's status (status.admission), so a
// restarted controller picks up where it was. Setup is written against one
// cluster; bokujo runs one manager per managed cluster.
package mltask
