# VM suite: nvmf-aen.sh's scenarios over NVMe/RDMA on Soft-RoCE (rdma_rxe on
# a veth end with an address; the nvmet port's addr_trtype rdma; sanhook
# connect -t rdma). The scenario code is nvmf-aen.sh's, unchanged: lib.sh
# sets up the transport NVMF_TRANSPORT names (tgt_port, ADDR).
# scenarios: aen-autoconnect racing-events deliberate-disconnect
NVMF_TRANSPORT=rdma
source test/system/scenarios/nvmf-aen.sh
