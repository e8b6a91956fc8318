from labcore.api.routers import OptionalSlashRouter
from samples.api.views import PlateViewSet, SampleViewSet

router = OptionalSlashRouter()
router.register("plates", PlateViewSet, basename="plate")
router.register("samples", SampleViewSet, basename="sample")

urlpatterns = router.urls
