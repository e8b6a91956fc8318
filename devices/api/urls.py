from devices.api.views import DeviceViewSet
from labcore.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("devices", DeviceViewSet, basename="device")

urlpatterns = router.urls
