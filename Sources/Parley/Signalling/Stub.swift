enum ParleyStub {}
