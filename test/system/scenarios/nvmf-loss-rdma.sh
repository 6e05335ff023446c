# VM suite: nvmf-loss.sh's scenarios over NVMe/RDMA on Soft-RoCE (rdma_rxe on
# a veth end with an address; the nvmet port's addr_trtype rdma; sanhook
# connect -t rdma). The scenario code is nvmf-loss.sh's, unchanged: lib.sh
# sets up the transport NVMF_TRANSPORT names (tgt_port, ADDR). Paths are lost
# by unlinking the subsystem from the port, never by taking the rxe netdev down.
# Not early-add-identity: it delays the connect through a TCP proxy, and
# RDMA/CM does not go through one.
# scenarios: kernel-gives-up-sanhook-reconnects given-up-at-ctrl-loss
NVMF_TRANSPORT=rdma
[ $# -gt 0 ] || set -- kernel-gives-up-sanhook-reconnects given-up-at-ctrl-loss
source test/system/scenarios/nvmf-loss.sh
